"""Project submissions (JSON, or multipart with files), mentor review, and local file serving.

``POST /api/submissions`` reads its own body because it takes two kinds: JSON (through
``lms.web.read_json``, with the usual ``LMS_MAX_BODY_BYTES`` cap) or ``multipart/form-data``
capped at ``submissions.MAX_UPLOAD_BYTES`` (51 MiB), refused from its Content-Length before a
byte is read, and counted while reading when the body is chunked. Anything else is 415. The
declared ``body`` schema documents the JSON form in OpenAPI and validates both forms.

Multipart is parsed with Bottle's own parser, but called directly with limits of ours:
``request.files`` (Bottle 0.13) sets the in-memory budget for all parts together to the same
100 KB as the point where one part moves to disk, so two 60 KB files are refused
("Memory limit reached"). Here each part moves to disk past 64 KB, and the total is bounded by
the request cap. Parts are read one by one and each file is checked as it arrives, so a bad
file ends the request before the rest is read or anything is stored.
"""
from email.message import Message

import bottle

from .. import files, storage, submissions
from ..errors import BadRequest, PayloadTooLarge, ValidationError
from ..schema import PAGE, Id, Obj, Query, Str, Url
from ..web import read_json

SUBMIT = Obj(courseId=Id(), submissionUrl=Url(required=False, nullable=True))
VERIFY = Obj(submissionId=Id(), decision=Str(choices=submissions.DECISIONS),
             grade=Str(max=20, required=False, nullable=True, description='e.g. "A" or "92/100"'),
             comments=Str(max=5000, required=False, nullable=True))
MINE = Query(courseId=Id(required=False), **PAGE)
REVIEW_QUEUE = Query(status=Str(choices=submissions.STATUSES, required=False), courseId=Id(required=False),
                     userId=Id(required=False), sort=Str(choices=submissions.SORTS, default="newest"), **PAGE)
FIELD_BYTES = 8192  # a form field larger than this is no course id or URL
PART_MEMORY = 64 * 1024
FILE_CACHE = "private, max-age=300"  # certificates are re-issued under the same key


def submit(runtime, user, actor):
    request = bottle.request
    header = Message()
    header["Content-Type"] = request.environ.get("CONTENT_TYPE", "")  # .content_type lower-cases the boundary
    if header.get_content_type() == "multipart/form-data":
        fields, uploads = _read_multipart(request, header.get_param("boundary"))
    else:  # JSON, or the 415 / 400 that read_json answers for anything else
        fields, uploads = SUBMIT.validate(read_json(request, runtime.settings.max_body_bytes)), []
    submission = submissions.submit(runtime.db, runtime.settings, user["id"], fields["courseId"],
                                    fields.get("submissionUrl"), uploads, actor)
    return {"_status": 201, "submission": submissions.public(submission)}


def _read_multipart(request, boundary):
    length = request.environ.get("CONTENT_LENGTH") or ""
    if length and not length.isdigit():
        raise BadRequest("Content-Length is not a number")
    if length and int(length) > submissions.MAX_UPLOAD_BYTES:
        raise _too_large(submissions.MAX_UPLOAD_BYTES)
    if not boundary:
        raise BadRequest("The multipart body has no boundary", code="invalid_multipart")
    parser = bottle._MultipartParser(
        _Capped(request.environ["wsgi.input"], submissions.MAX_UPLOAD_BYTES), boundary,
        int(length) if length else -1, disk_limit=submissions.MAX_UPLOAD_BYTES,
        mem_limit=submissions.MAX_UPLOAD_BYTES, memfile_limit=PART_MEMORY, charset="utf8")
    fields, uploads = {}, []
    try:
        for part in parser.parse():
            try:
                if part.name == "files" and not (part.filename == "" and part.size == 0):
                    uploads.append(submissions.accept_file(len(uploads), part.filename, part.file))
                elif part.name in SUBMIT.fields:
                    if part.size > FIELD_BYTES:
                        raise ValidationError({part.name: "is too long"})
                    fields[part.name] = part.value
            finally:
                part.close()
    except (bottle.MultipartError, ValueError) as exc:  # ValueError: undecodable text, bad numbers
        raise BadRequest(f"The multipart body is malformed ({_reason(exc)})", code="invalid_multipart") from None
    return SUBMIT.validate(fields), uploads


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
    return PayloadTooLarge(f"An upload may be at most {limit} bytes ({limit / 2 ** 20:g} MiB)")


def my_submissions(db, user, query):
    return submissions.mine(db, user["id"], query.get("courseId"), query["page"], query["limit"])


def review_queue(db, query):
    return submissions.search(db, **query)


def verify(runtime, body, actor):
    submission, cert, created = submissions.review(
        runtime.db, runtime.settings, body["submissionId"], body["decision"], body.get("grade"),
        body.get("comments"), actor)
    reply = {"submission": submissions.public(submission), "certificateCreated": created}
    if created:
        reply["certId"] = cert["certId"]
        if runtime.worker:  # render it now rather than at the worker's next tick
            runtime.worker.wake()
    return reply


def serve_file(runtime, key):
    """A file of the local storage folder; 404 for anything else, and always when files live on
    Cloudinary (their URLs point there)."""
    store = storage.storage(runtime.settings)
    path = store.path_for(key) if isinstance(store, storage.LocalStorage) else None
    if path is None:
        return bottle.HTTPError(404, "No such file")
    try:
        with open(path, "rb") as stored:
            content_type, inline, headers = files.serving(stored.read(files.SNIFF_BYTES))
    except FileNotFoundError:  # deleted since path_for looked
        return bottle.HTTPError(404, "No such file")
    return bottle.static_file(path.name, root=str(path.parent), mimetype=content_type,
                              download=False if inline else path.name,
                              headers={**headers, "Cache-Control": FILE_CACHE})
