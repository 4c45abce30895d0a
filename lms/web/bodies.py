"""Reading request bodies: raw bytes, JSON, and multipart uploads, each within stated limits.

``read_body`` and ``read_json`` serve JSON routes (``LMS_MAX_BODY_BYTES``). A JSON body nested
deeper than ``MAX_JSON_DEPTH`` arrays and objects is a 400 ``invalid_json``, like one that is
not JSON (nothing the API takes comes near that depth; Python's parser would otherwise recurse
until it fails). ``read_multipart`` is the one reader of ``multipart/form-data`` for every
upload route; each route states its ``UploadLimits``.

How an upload is read:
- It is parsed as it arrives, ``CHUNK`` bytes at a time, by ``multipart``'s push parser (sans
  I/O: it only sees the bytes we hand it), and this greenlet yields to the hub after each chunk,
  so no body, however it is built, holds up other requests for more than the time one chunk
  takes (a fraction of a millisecond).
- Every limit is checked the moment it is broken, before the rest is read: the Content-Length
  or the bytes received against ``total_bytes`` (413 ``payload_too_large``), the number of parts
  (``max_parts``, 413), of files (``max_files``, 400 ``too_many_files``), a file's bytes
  (``file_bytes``, 413 ``file_too_large``), a form field's bytes (``field_bytes``, 400
  ``validation_error``), a part's header lines (400 ``invalid_multipart``). The server then
  closes the connection instead of reading the rest only to discard it (``lms.web.server``).
- File parts are written to a temporary file (``SpooledTemporaryFile``: the first
  ``part_memory`` bytes in memory, the rest on disk), never gathered in memory; each is handed to
  the route's ``accept`` when it is complete, so the first bad file ends the request before the
  next one is read. The temporary files are gone when the request ends.
- ``before_files(fields)`` runs once, before the first byte of the first file is written
  anywhere, with the form fields read so far: a route checks there what decides whether files
  may be sent at all (who, which course, enrolled). So the fields it needs must come before the
  files in the body, which is what browsers (``FormData`` and ``<form>`` keep document order),
  curl (``-F`` order) and HTTP libraries do when the fields are listed first.
- A stalled body (no byte for ``LMS_BODY_TIMEOUT`` seconds) is a 408 ``request_timeout``; one
  that ends before its Content-Length a 400 ``incomplete_body``.
"""
import json
import tempfile
from dataclasses import dataclass
from email.message import Message

import gevent
from multipart import MultipartError, MultipartSegment, PushMultipartParser

from .. import errors

MAX_JSON_DEPTH = 32
CHUNK = 64 * 1024
MAX_PART_HEADER = 2048  # bytes of one part header line; a Content-Disposition with a long file name fits
MAX_PART_HEADERS = 8


def read_body(request, limit):
    """The raw request body, at most ``limit`` bytes (else 413), read once and cached."""
    environ = request.environ
    if "lms.raw_body" in environ:
        return environ["lms.raw_body"]
    length = _content_length(environ)
    if length is not None and length > limit:
        raise errors.PayloadTooLarge(f"The request body is larger than {limit} bytes")
    # With a Content-Length read exactly that; a chunked body was already de-chunked by the
    # server, so read up to one byte past the cap to know whether it is over.
    data = _read(environ["wsgi.input"], length if length is not None else limit + 1)
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
    return parse_json(data)


def parse_json(data):
    """The JSON object in ``data`` (bytes), or 400 ``invalid_json``."""
    try:
        value = json.loads(data, parse_constant=_reject_constant)
    except RecursionError:
        raise _too_deep() from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise errors.BadRequest(f"The body is not valid JSON: {exc}", code="invalid_json") from None
    if not isinstance(value, dict):
        raise errors.BadRequest("The body must be a JSON object", code="invalid_json")
    # A document cannot be deeper than its brackets: only a body with many of them is walked.
    if data.count(b"[") + data.count(b"{") > MAX_JSON_DEPTH and depth_over(value, MAX_JSON_DEPTH):
        raise _too_deep()
    return value


def depth_over(value, limit):
    """Whether ``value`` nests arrays and objects more than ``limit`` deep (the top one is 1)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        children = item.values() if isinstance(item, dict) else item
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


def _too_deep():
    return errors.BadRequest(f"The body nests arrays and objects deeper than {MAX_JSON_DEPTH} levels",
                             code="invalid_json")


def _reject_constant(name):
    raise ValueError(f"{name} is not JSON")


def _content_length(environ):
    length = environ.get("CONTENT_LENGTH") or ""
    if length and not length.isdigit():
        raise errors.BadRequest("Content-Length is not a number")
    return int(length) if length else None


def _read(stream, size, some=False):
    """``stream.read(size)`` (with ``some``: what has arrived of it, at least a byte, where the
    server's stream can tell); a body that stalls or breaks off is the client's error."""
    try:
        return (getattr(stream, "read1", stream.read) if some else stream.read)(size)
    except TimeoutError:
        raise errors.RequestTimeout("The request body stopped arriving") from None
    except OSError:  # the client went away mid-body, or sent broken chunked encoding
        raise errors.BadRequest("The request body ended before it was complete", code="incomplete_body") from None


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
    max_files: int = 1  # parts carrying a file in the route's file field
    file_bytes: int = None  # one file; None: only the total bounds it
    max_parts: int = 16  # every part: files, fields, and parts the route ignores
    field_bytes: int = 8192  # a form field larger than this is no id or URL
    part_memory: int = 64 * 1024  # a file part past this many bytes continues on disk


def read_multipart(request, limits, *, files_field, fields, accept, before_files=None):
    """``(fields, accepted)`` of a ``multipart/form-data`` body.

    ``fields`` names the form fields to keep (others are ignored); each part named
    ``files_field`` is passed to ``accept(index, filename, stream)`` once it is complete, and
    the results are returned in order; ``accept`` refuses a file by raising. ``before_files``
    (optional) is called with the fields read so far before the first file byte is stored, and
    refuses the upload by raising. Another media type is 415; a missing boundary, a malformed
    body or undecodable text is 400 ``invalid_multipart``; the limits are in the module's
    docstring.
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
    form = _Form(limits, files_field, fields, accept, before_files)
    try:
        parser = PushMultipartParser(boundary, length if length is not None else -1,
                                     max_header_size=MAX_PART_HEADER, max_header_count=MAX_PART_HEADERS)
        with parser:
            form.read(parser, request.environ["wsgi.input"])
    except MultipartError as exc:
        raise errors.BadRequest(f"The multipart body is malformed ({exc})", code="invalid_multipart") from None
    finally:
        form.discard()
    return form.kept, form.accepted


class _Form:
    """The state of one multipart body being read: which part, how many, what was kept."""

    def __init__(self, limits, files_field, fields, accept, before_files):
        self.limits, self.files_field, self.fields = limits, files_field, fields
        self.accept, self.before_files = accept, before_files
        self.kept, self.accepted = {}, []
        self.parts = self.files = self.received = 0
        self.part = self.spool = self.value = None

    def read(self, parser, stream):
        while not parser.closed:
            chunk = _read(stream, CHUNK, some=True)
            self.received += len(chunk)
            if self.received > self.limits.total_bytes:
                raise _too_large(self.limits.total_bytes)
            for event in parser.parse(chunk):  # an empty chunk ends the body: incomplete is an error
                if isinstance(event, MultipartSegment):
                    self.start(event)
                elif event is None:
                    self.end()
                else:
                    self.write(event)
            gevent.sleep(0)  # let other requests run between chunks, whatever this body holds

    def start(self, part):
        self.parts += 1
        if self.parts > self.limits.max_parts:
            raise errors.PayloadTooLarge(f"A form may have at most {self.limits.max_parts} parts")
        self.part = part
        if part.name == self.files_field and part.filename is not None:
            self.spool = None  # created with the first byte: an empty file input sends none
        elif part.name in self.fields:
            self.value = bytearray()

    def write(self, data):
        part = self.part
        if part.name == self.files_field and part.filename is not None:
            if self.spool is None:
                self.open_file()
            if self.limits.file_bytes is not None and part.bytes_received > self.limits.file_bytes:
                raise _file_too_large(self.files_field, self.files, part.filename, self.limits.file_bytes)
            self.spool.write(data)
        elif part.name in self.fields:
            if part.bytes_received > self.limits.field_bytes:
                raise errors.ValidationError({part.name: "is too long"})
            self.value += data

    def open_file(self):
        if self.files >= self.limits.max_files:
            limit = self.limits.max_files
            raise errors.BadRequest(f"At most {limit} file{'s' if limit != 1 else ''} per request",
                                    code="too_many_files", fields={self.files_field: f"at most {limit} files"
                                                                   if limit > 1 else "give one file at a time"})
        if self.before_files is not None:
            self.before_files(dict(self.kept))
            self.before_files = None
        self.spool = tempfile.SpooledTemporaryFile(max_size=self.limits.part_memory)

    def end(self):
        part, self.part = self.part, None
        if part.name == self.files_field and part.filename is not None:
            if self.spool is None and part.filename:  # a named file with no bytes: the route judges it
                self.open_file()
            if self.spool is not None:
                spool, self.spool = self.spool, None
                with spool:
                    spool.seek(0)
                    self.accepted.append(self.accept(self.files, part.filename, spool))
                self.files += 1
        elif part.name in self.fields:
            try:
                self.kept[part.name] = self.value.decode("utf-8")
            except UnicodeDecodeError:
                raise errors.BadRequest(f"The form field '{part.name}' is not UTF-8 text",
                                        code="invalid_multipart") from None

    def discard(self):
        if self.spool is not None:
            self.spool.close()
            self.spool = None


def _too_large(limit):
    return errors.PayloadTooLarge(f"An upload may be at most {limit} bytes ({limit / 2 ** 20:g} MiB)")


def _file_too_large(field, index, filename, limit):
    return errors.PayloadTooLarge(f"The file {filename[:100]!r} is larger than {limit / 2 ** 20:g} MiB",
                                  code="file_too_large", fields={f"{field}.{index}": f"is larger than "
                                                                 f"{limit / 2 ** 20:g} MiB"})
