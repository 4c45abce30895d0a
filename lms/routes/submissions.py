"""Project submissions (JSON, or multipart with files) and mentor review.

``POST /api/submissions`` takes two kinds of body: JSON (through ``read_json``, with the usual
``LMS_MAX_BODY_BYTES`` cap) or ``multipart/form-data`` through the one multipart reader, with
``UPLOADS``: at most ``submissions.MAX_UPLOAD_BYTES`` (51 MiB) in all, ``MAX_FILES`` files of
``MAX_FILE_BYTES`` each, each file checked by ``submissions.accept_file`` as it arrives. Anything
else is 415. The declared ``body`` schema documents the JSON form in OpenAPI and validates both.

In a multipart body ``courseId`` must come before the first file: the course and the learner's
enrollment are checked then, before a byte of any file is stored (a file before it is a 400
naming ``courseId``).

A review names its decision ``status`` (``approved``/``rejected``) and the mentor's words
``mentorComments``, as the submission it answers does. ``decision`` (``approve``/``reject``)
and ``comments`` are the earlier names, still accepted for one release and marked deprecated
in OpenAPI; a body giving both names of one thing must agree (else 400).
"""
import bottle

from ..errors import ValidationError
from ..learning import submissions
from ..reports import lists
from ..schema import PAGE, Form, Id, Obj, Query, Str, Url
from ..web.bodies import UploadLimits, media_type, read_json, read_multipart

SUBMIT = Obj(courseId=Id(), submissionUrl=Url(required=False, nullable=True))
COMMENTS = dict(max=5000, required=False, nullable=True)
VERIFY = Obj(submissionId=Id(),
             status=Str(choices=submissions.DECIDED, required=False, description="The decision (required)"),
             decision=Str(choices=submissions.DECISIONS, required=False, deprecated=True,
                          description="Deprecated: the earlier name of status (approve, reject)"),
             grade=Str(max=20, required=False, nullable=True, description='e.g. "A" or "92/100"'),
             mentorComments=Str(**COMMENTS, description="Shown to the student"),
             comments=Str(**COMMENTS, deprecated=True, description="Deprecated: the earlier name of mentorComments"))
MINE = Query(courseId=Id(required=False), **PAGE)
REVIEW_QUEUE = Query(status=Str(choices=submissions.STATUSES, required=False), courseId=Id(required=False),
                     userId=Id(required=False), sort=Str(choices=submissions.SORTS, default="newest"), **PAGE)
UPLOADS = UploadLimits(total_bytes=submissions.MAX_UPLOAD_BYTES, max_files=submissions.MAX_FILES,
                       file_bytes=submissions.MAX_FILE_BYTES)
FORM = Form(SUBMIT, files="files", max_files=submissions.MAX_FILES)
BEFORE_FILES = Obj(courseId=Id())


def submit(db, settings, storage, user, actor):
    request = bottle.request
    if media_type(request) == "multipart/form-data":
        fields, uploads = read_multipart(request, UPLOADS, files_field="files", fields=SUBMIT.fields,
                                         accept=submissions.accept_file,
                                         before_files=lambda early: _may_upload(db, user, early))
        fields = SUBMIT.validate(fields)
    else:  # JSON, or the 415 / 400 that read_json answers for anything else
        fields, uploads = SUBMIT.validate(read_json(request, settings.max_body_bytes)), []
    submission = submissions.submit(db, storage, user["id"], fields["courseId"], fields.get("submissionUrl"),
                                    uploads, actor)
    return {"_status": 201, "submission": submissions.public(submission)}


def _may_upload(db, user, early):
    if "courseId" not in early:
        raise ValidationError({"courseId": "must come before the files in the form"})
    submissions.may_submit(db, user["id"], BEFORE_FILES.validate(early)["courseId"])


def my_submissions(db, user, query):
    return submissions.mine(db, user["id"], query.get("courseId"), query["page"], query["limit"],
                            query.get("cursor"))


def review_queue(db, query, actor):
    return lists.submission_rows(db, actor, **query)


def verify(db, settings, body, actor):
    status = _one_of(body, "status", "decision", submissions.DECISIONS.get)
    if status is None:
        raise ValidationError({"status": "is required"})
    submission, cert, created = submissions.review(
        db, body["submissionId"], status, body.get("grade"), _one_of(body, "mentorComments", "comments"), actor,
        cert_prefix=settings.cert_prefix)
    reply = {"submission": submissions.public(submission), "certificateCreated": created}
    if created:
        reply["certId"] = cert["certId"]
    return reply


def _one_of(body, name, alias, translate=lambda value: value):
    """The value of ``name``, or of its deprecated ``alias`` (``translate``d); both must agree."""
    value, old = body.get(name), translate(body[alias]) if body.get(alias) is not None else None
    if value is not None and old is not None and value != old:
        raise ValidationError({alias: f"disagrees with {name}; send {name} only"})
    return value if value is not None else old
