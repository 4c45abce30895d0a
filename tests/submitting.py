"""Shared by the submission and file tests: sample files by their bytes, an enrolled
learner, multipart uploads through webtest, and what "nothing was stored" means."""
import io
import zipfile
from contextlib import contextmanager

from factories import create_course
from lms.web.app import create_app
from lms.runtime import Runtime

PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(17)
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(20)
TEXT = "Notes — नमस्ते\n<script>alert(1)</script>\n".encode()
EXE = b"MZ\x90\x00\x03\x00\x00\x00" + bytes(56) + b"This program cannot be run in DOS mode."
REPO = "https://github.com/student/project"


def zipped():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("main.py", "print('hi')")
    return buffer.getvalue()


def enrolled(signed_in, db, role="student", **course_fields):
    """A signed-in learner with an active enrollment (a simulated payment) in a new course."""
    course = create_course(db, **course_fields)
    student = signed_in(role)
    student.post_json("/api/enroll", {"courseId": course["_id"], "paymentMode": "simulated"}, status=201)
    return student, course


def upload(client, course, files, status=201, **fields):
    return client.post("/api/submissions", {"courseId": course["_id"], **fields}, upload_files=files,
                       content_type="multipart/form-data", status=status)


def post_bytes(client, body, content_type, status):
    """A body exactly as given (webtest's post() would re-encode a multipart one)."""
    return client.request("https://lms.test/api/submissions", method="POST", body=body,
                          headers={"Content-Type": content_type}, status=status)


def stored_files(settings):
    root = settings.data_dir / "files"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def nothing_stored(db, settings):
    return (db.submissions.count_documents({}), stored_files(settings),
            db.auditLogs.count_documents({"targetType": "submission"})) == (0, [], 0)


@contextmanager
def app_with(make_settings, **env):
    runtime = Runtime.open(make_settings(**env))
    try:
        yield runtime, create_app(runtime)
    finally:
        runtime.close()
