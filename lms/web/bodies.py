"""Reading request bodies: raw bytes, JSON, and multipart uploads, each within stated limits.

``read_body`` and ``read_json`` serve JSON routes (``LMS_MAX_BODY_BYTES``). ``read_multipart`` is
the one reader of ``multipart/form-data`` for every upload route; each route states its
``UploadLimits``. A body is refused from its Content-Length before a byte is read when that
is over the total, and counted while reading when it is chunked. Parts are read one at a time
and each file is handed to the route's ``accept`` as it arrives, so the first bad file ends the
request before the rest is read or anything is stored.

Multipart is parsed with Bottle's own parser, called directly with limits of ours:
``request.files`` (Bottle 0.13) sets the in-memory budget for all parts together to the same
100 KB as the point where one part moves to disk, so two 60 KB files are refused ("Memory limit
reached"). Here each part moves to disk past ``UploadLimits.part_memory``.
"""
import json
from dataclasses import dataclass
from email.message import Message

import bottle

from .. import errors


def read_body(request, limit):
    """The raw request body, at most ``limit`` bytes (else 413), read once and cached."""
    environ = request.environ
    if "lms.raw_body" in environ:
        return environ["lms.raw_body"]
    length = _content_length(environ)
    if length is not None and length > limit:
        raise errors.PayloadTooLarge(f"The request body is larger than {limit} bytes")
    stream = environ["wsgi.input"]
    # With a Content-Length read exactly that; a chunked body was already de-chunked by the
    # server, so read up to one byte past the cap to know whether it is over.
    data = stream.read(length) if length is not None else stream.read(limit + 1)
    if len(data) > limit:
        raise errors.PayloadTooLarge(f"The request body is larger than {limit} bytes")
    environ["lms.raw_body"] = data
    return data


def read_json(request, limit):
    content_type = (request.content_type or "").split(";")[0].strip().lower()
    data = read_body(request, limit)
    if not data and not content_type:
        raise errors.BadRequest("A JSON body is required", code="invalid_json")
    if content_type != "application/json" and not content_type.endswith("+json"):
        raise errors.UnsupportedMediaType("The body must be JSON (Content-Type: application/json)")
    try:
        value = json.loads(data, parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        raise errors.BadRequest(f"The body is not valid JSON: {exc}", code="invalid_json") from None
    if not isinstance(value, dict):
        raise errors.BadRequest("The body must be a JSON object", code="invalid_json")
    return value


def _reject_constant(name):
    raise ValueError(f"{name} is not JSON")


def _content_length(environ):
    length = environ.get("CONTENT_LENGTH") or ""
    if length and not length.isdigit():
        raise errors.BadRequest("Content-Length is not a number")
    return int(length) if length else None


def media_type(request):
    """The request's media type, lower-cased, without parameters."""
    return _content_type(request).get_content_type()


def _content_type(request):
    # Straight from the environ: Bottle's .content_type lower-cases the boundary.
    header = Message()
    header["Content-Type"] = request.environ.get("CONTENT_TYPE", "")
    return header


@dataclass(frozen=True)
class UploadLimits:
    total_bytes: int  # the whole request
    field_bytes: int = 8192  # a form field larger than this is no id or URL
    part_memory: int = 64 * 1024  # a part larger than this is spooled to disk while it is read


def read_multipart(request, limits, *, files_field, fields, accept):
    """``(fields, accepted)`` of a ``multipart/form-data`` body.

    ``fields`` names the form fields to keep (others are ignored); each part named
    ``files_field`` is passed to ``accept(index, filename, stream)``, whose results are returned in
    order; ``accept`` refuses a file by raising. Another media type is 415; a missing boundary,
    a malformed body or undecodable text is 400 ``invalid_multipart``.
    """
    header = _content_type(request)
    if header.get_content_type() != "multipart/form-data":
        raise errors.UnsupportedMediaType(f"Upload as multipart/form-data, the files in the field '{files_field}'")
    length = _content_length(request.environ)
    if length is not None and length > limits.total_bytes:
        raise _too_large(limits.total_bytes)
    boundary = header.get_param("boundary")
    if not boundary:
        raise errors.BadRequest("The multipart body has no boundary", code="invalid_multipart")
    parser = bottle._MultipartParser(
        _Capped(request.environ["wsgi.input"], limits.total_bytes), boundary,
        length if length is not None else -1, disk_limit=limits.total_bytes,
        mem_limit=limits.total_bytes, memfile_limit=limits.part_memory, charset="utf8")
    kept, accepted = {}, []
    try:
        for part in parser.parse():
            try:
                if part.name == files_field and not (part.filename == "" and part.size == 0):
                    accepted.append(accept(len(accepted), part.filename, part.file))
                elif part.name in fields:
                    if part.size > limits.field_bytes:
                        raise errors.ValidationError({part.name: "is too long"})
                    kept[part.name] = part.value
            finally:
                part.close()
    except (bottle.MultipartError, ValueError) as exc:  # ValueError: undecodable text, bad numbers
        raise errors.BadRequest(f"The multipart body is malformed ({_reason(exc)})",
                                code="invalid_multipart") from None
    return kept, accepted


def _reason(exc):
    return exc.body.removeprefix("MultipartError: ") if isinstance(exc, bottle.HTTPError) else type(exc).__name__


class _Capped:
    """A request stream that refuses to yield more than ``limit`` bytes (413), for bodies
    without a Content-Length to check first."""

    def __init__(self, stream, limit):
        self.stream, self.limit, self.left = stream, limit, limit

    def read(self, size):
        data = self.stream.read(size)
        self.left -= len(data)
        if self.left < 0:
            raise _too_large(self.limit)
        return data


def _too_large(limit):
    return errors.PayloadTooLarge(f"An upload may be at most {limit} bytes ({limit / 2 ** 20:g} MiB)")
