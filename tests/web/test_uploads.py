"""The one multipart reader's rules, through the app's own WSGI stack: how many parts, which
part may come when, how large a part's headers and fields may be, and what each refusal says.
(The same limits over real sockets, with bodies that stall or never end: test_exhaustion.py.)"""
import pytest

from lms.web.bodies import MAX_PART_HEADER, UploadLimits
from support.app import post_bytes
from support.factories import PDF, REPO, enrolled
from support.submissions import nothing_stored

BOUNDARY = "xYz"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"


def part(name, data=b"", filename=None, headers=()):
    disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename is not None else "")
    lines = [f"Content-Disposition: {disposition}", *headers]
    return (f"--{BOUNDARY}\r\n" + "\r\n".join(lines) + "\r\n\r\n").encode() + data + b"\r\n"


def form(*parts):
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


def submit(student, body, status):
    return post_bytes(student, "/api/submissions", body, MULTIPART, status).json


def test_a_form_with_more_parts_than_allowed_is_413(signed_in, db, settings):
    student, course = enrolled(signed_in, db)
    limit = UploadLimits(total_bytes=1).max_parts
    fields = [part("courseId", course["_id"].encode()), part("submissionUrl", REPO.encode())]
    padding = [part("note") for _ in range(limit - len(fields))]
    assert submit(student, form(*fields, *padding), 201)["submission"]["submissionUrl"] == REPO
    error = submit(student, form(*fields, *padding, part("note")), 413)["error"]
    assert (error["code"], error["message"]) == ("payload_too_large", f"A form may have at most {limit} parts")
    assert db.submissions.count_documents({}) == 1


def test_files_must_come_after_the_course_id(signed_in, db, settings):
    student, course = enrolled(signed_in, db)
    late = form(part("files", PDF, "a.pdf"), part("courseId", course["_id"].encode()))
    error = submit(student, late, 400)["error"]
    assert error["fields"] == {"courseId": "must come before the files in the form"}
    assert nothing_stored(db, settings)
    # An empty file input (a browser sends it when nothing was chosen) is not a file.
    empty_first = form(part("files", b"", ""), part("courseId", course["_id"].encode()),
                       part("submissionUrl", REPO.encode()))
    assert submit(student, empty_first, 201)["submission"]["files"] == []


def test_the_course_and_enrollment_are_checked_before_the_first_file(signed_in, db, settings):
    student, course = enrolled(signed_in, db)
    stranger = signed_in()
    body = form(part("courseId", course["_id"].encode()), part("files", PDF, "a.pdf"))
    assert submit(stranger, body, 403)["error"]["code"] == "not_enrolled"
    unknown = form(part("courseId", b"0123456789abcdef01234567"), part("files", PDF, "a.pdf"))
    assert submit(student, unknown, 404)["error"]["code"] == "not_found"
    bad_id = form(part("courseId", b"nope"), part("files", PDF, "a.pdf"))
    assert "courseId" in submit(student, bad_id, 400)["error"]["fields"]
    assert nothing_stored(db, settings)


@pytest.mark.parametrize("body", [
    form(part("courseId", b"x", headers=[f"X-Long: {'h' * MAX_PART_HEADER}"])),
    form(part("courseId", b"x", headers=[f"X-Header-{n}: h" for n in range(8)])),
    form(part("submissionUrl", b"https://example.com/\xff")),
    b"--" + BOUNDARY.encode() + b"\r\nContent-Disposition: attachment\r\n\r\nx\r\n--" + BOUNDARY.encode() + b"--\r\n",
], ids=["part-header-too-long", "too-many-part-headers", "field-not-utf8", "not-form-data"])
def test_malformed_parts_are_400_invalid_multipart(signed_in, db, settings, body):
    student, course = enrolled(signed_in, db)
    assert submit(student, body, 400)["error"]["code"] == "invalid_multipart"
    assert nothing_stored(db, settings)


def test_a_field_past_its_limit_is_refused_and_other_parts_are_ignored(signed_in, db, settings):
    student, course = enrolled(signed_in, db)
    limit = UploadLimits(total_bytes=1).field_bytes
    error = submit(student, form(part("courseId", course["_id"].encode()), part("submissionUrl", b"h" * (limit + 1))),
                   400)["error"]
    assert error["fields"] == {"submissionUrl": "is too long"}
    ignored = form(part("courseId", course["_id"].encode()), part("notes", b"n" * (limit * 4)),
                   part("files", b"not a file part: no filename"), part("submissionUrl", REPO.encode()))
    shown = submit(student, ignored, 201)["submission"]
    assert (shown["files"], shown["submissionUrl"]) == ([], REPO)
