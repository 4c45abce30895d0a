"""Files: uploads judged by their bytes and stored whole or not at all (local folder or
Cloudinary, within the size limits also over a real socket), and local files served at
/files/<key>: never as HTML, PDFs and images inline, everything else a download, and nothing
outside the storage folder."""
import http.client
import time

import pytest

from lms.adapters.storage import kinds as files
from lms.learning.submissions import MAX_UPLOAD_BYTES
from lms.routes.files import serving
from support.app import adapters, app_with, browser
from support.doubles.cloudinary import CloudinaryDouble
from support.factories import EXE, JPEG, PDF, PNG, TEXT, create_course, create_user, enrolled, sign_in, zipped
from support.live import call
from support.submissions import stored_files, upload

HTML = b"<!doctype html><script>alert(document.cookie)</script>"
CHUNK = 1 << 20


def put(settings, key, data):
    adapters(settings).storage.put(key, data, None)
    return f"/files/{key}"


@pytest.mark.parametrize("key, data, content_type, inline", [
    ("certificates/CERT-7K3M9QXH2P.pdf", PDF, "application/pdf", True),
    ("submissions/s1/a.png", PNG, "image/png", True),
    ("submissions/s1/a.jpg", JPEG, "image/jpeg", True),
    ("submissions/s1/a.zip", zipped(), "application/zip", False),
    ("submissions/s1/page.html", HTML, "text/plain; charset=UTF-8", False),
    ("submissions/s1/a.pdf", EXE, "application/octet-stream", False),
], ids=["pdf", "png", "jpeg", "zip", "html-as-text", "exe-named-pdf"])
def test_files_are_typed_by_their_bytes_and_served_with_safe_headers(client, settings, key, data,
                                                                      content_type, inline):
    response = client.get(put(settings, key, data))
    assert response.body == data and response.headers["Content-Type"] == content_type
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"].startswith("private, max-age=")
    policy = response.headers["Content-Security-Policy"]
    assert policy.startswith("default-src 'none'")
    # Browsers' PDF viewers do not run in a sandboxed document, and the verify page embeds
    # certificates; everything else is sandboxed and never framed.
    pdf = content_type == "application/pdf"
    assert ("sandbox" in policy) != pdf
    assert response.headers["X-Frame-Options"] == ("SAMEORIGIN" if pdf else "DENY")
    assert ("frame-ancestors 'self'" if pdf else "frame-ancestors 'none'") in policy
    disposition = response.headers.get("Content-Disposition", "")
    assert disposition.startswith("attachment") != inline


def test_head_conditional_and_range_requests(client, settings):
    path = put(settings, "certificates/CERT-7K3M9QXH2P.pdf", PDF)
    head = client.head(path)
    assert head.body == b"" and head.headers["Content-Length"] == str(len(PDF))
    assert head.headers["Content-Type"] == "application/pdf"
    etag = client.get(path).headers["ETag"]
    client.get(path, headers={"If-None-Match": etag}, status=304)
    assert client.get(path, headers={"Range": "bytes=0-4"}, status=206).body == b"%PDF-"


def test_a_reissued_file_gets_a_new_etag(client, settings):
    path = put(settings, "certificates/CERT-7K3M9QXH2P.pdf", PDF)
    first = client.get(path).headers["ETag"]
    put(settings, "certificates/CERT-7K3M9QXH2P.pdf", PDF + b"% re-issued\n")
    response = client.get(path, headers={"If-None-Match": first})
    assert response.status_int == 200 and response.body.endswith(b"re-issued\n")


@pytest.mark.parametrize("path", [
    "/files/certificates/none.pdf", "/files/", "/files/certificates", "/files/%2e%2e/secret_key",
    "/files/certificates/%2e%2e/%2e%2e/secret_key", "/files/certificates/.CERT.pdf.1a2b.tmp",
    "/files/a%5cb", "/files/link/secret.txt"])
def test_missing_hidden_and_escaping_paths_are_a_plain_404(client, settings, path):
    put(settings, "certificates/CERT-7K3M9QXH2P.pdf", PDF)
    root = settings.data_dir / "files"
    (settings.data_dir / "secret_key").write_text("do not serve")
    (root / "certificates" / ".CERT.pdf.1a2b.tmp").write_bytes(PDF)
    (settings.data_dir / "outside").mkdir(exist_ok=True)
    (settings.data_dir / "outside" / "secret.txt").write_text("do not serve")
    (root / "link").symlink_to(settings.data_dir / "outside")
    response = client.get(path, status=404)
    assert response.content_type == "text/html" and "do not serve" not in response.text
    assert "Traceback" not in response.text


def test_nothing_is_served_locally_when_files_live_on_cloudinary(make_settings, cloudinary_double):
    local = make_settings()
    put(local, "certificates/CERT-7K3M9QXH2P.pdf", PDF)  # left over from before the switch
    with app_with(make_settings, CLOUDINARY_URL=cloudinary_double.url) as (_, app):
        browser(app).get("/files/certificates/CERT-7K3M9QXH2P.pdf", status=404)


# --- judging bytes and names ---------------------------------------------------------------

@pytest.mark.parametrize("data, expected", [
    (PDF, ("application/pdf", "pdf")), (PNG, ("image/png", "png")), (JPEG, ("image/jpeg", "jpg")),
    (zipped(), ("application/zip", "zip")), (b"PK\x05\x06" + bytes(18), ("application/zip", "zip")),
    ("नमस्ते, <b>hi</b>\n".encode(), ("text/plain", "txt")), (b"\xef\xbb\xbfBOM text", ("text/plain", "txt")),
    (EXE, None), (b"text\x00", None), (b"caf\xe9", None),
    (b"GIF89a\x01\x00\x01\x00\x00", None), (b"\x7fELF\x02\x01\x01\x00", None)])
def test_sniffing_allows_five_kinds_by_their_bytes(data, expected):
    assert files.sniff(data) == expected


def test_a_prefix_cut_inside_a_character_is_still_text_when_serving():
    cut = "नमस्ते".encode()[:-1]
    assert files.sniff(cut) is None
    assert files.sniff(cut, complete=False) == ("text/plain", "txt")
    assert serving(cut)[:2] == ("text/plain", False)
    assert serving(b"")[:2] == ("text/plain", False)


@pytest.mark.parametrize("raw, shown", [
    ("report.pdf", "report.pdf"), ("/home/amit/report.pdf", "report.pdf"), ("a\\b\\c.zip", "c.zip"),
    ("  spaced \n name .txt ", "spaced name .txt"), ("\u202efdp.exe", "fdp.exe"), ("\x00\x1b[31m.png", "[31m.png"),
    ("", "file"), (None, "file"), ("...", "..."), ("Ｒｅｐｏｒｔ.pdf", "Ｒｅｐｏｒｔ.pdf"),
    ("y" * 200, "y" * 119 + "…"), ("z" * 130 + ".verylongextension", "z" * 119 + "…")])
def test_display_names_drop_paths_and_invisible_characters(raw, shown):
    name = files.display_name(raw)
    assert name == shown and len(name) <= files.MAX_NAME


# --- storage failures ------------------------------------------------------------------

class CloudinaryFailingAfter(CloudinaryDouble):
    """The double, failing every upload once ``good`` uploads have succeeded."""

    def __init__(self, good):
        super().__init__()
        self.good = good

    def handle(self, cloud, resource_type, action, fields):
        if action == "upload" and len(self.uploads) >= self.good:
            return 500, {"error": {"message": "General Error (double: disk full)"}}
        return super().handle(cloud, resource_type, action, fields)


def test_files_go_to_cloudinary_when_it_is_configured(make_settings):
    with CloudinaryDouble() as double, app_with(make_settings, CLOUDINARY_URL=double.url) as (runtime, app):
        course = create_course(runtime.db, price=0)
        student = sign_in(app, create_user(runtime.db))
        student.post_json("/api/enroll", {"courseId": course["_id"]})
        shown = upload(student, course, [("files", "a.pdf", PDF), ("files", "b.png", PNG)]).json["submission"]
        assert sorted(double.uploads.values()) == sorted([PDF, PNG])
        assert all(f["url"].startswith(double.base_url) for f in shown["files"])


def test_a_storage_failure_midway_deletes_what_was_stored_and_saves_nothing(make_settings):
    with CloudinaryFailingAfter(good=1) as double, \
            app_with(make_settings, CLOUDINARY_URL=double.url) as (runtime, app):
        course = create_course(runtime.db, price=0)
        student = sign_in(app, create_user(runtime.db))
        student.post_json("/api/enroll", {"courseId": course["_id"]})
        response = upload(student, course, [("files", "a.pdf", PDF), ("files", "b.png", PNG)], status=503)
        assert response.json["error"]["code"] == "storage_unavailable" and response.headers["Retry-After"]
        assert [action for action, _ in double.requests] == ["upload", "destroy"]
        assert double.uploads == {} and runtime.db.submissions.count_documents({}) == 0


def test_a_broken_local_disk_is_503_and_saves_nothing(signed_in, db, settings):
    student, course = enrolled(signed_in, db)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    (settings.data_dir / "files").write_text("a file where the folder should be")
    response = upload(student, course, [("files", "a.pdf", PDF)], status=503)
    assert response.json["error"]["code"] == "storage_unavailable"
    assert db.submissions.count_documents({}) == 0


# --- limits over a real socket -----------------------------------------------------------

def multipart(course_id, *files, boundary="b0undary", ignored=b""):
    """A submission's body; ``ignored`` is the value of a field the route does not read."""
    head = (f'--{boundary}\r\nContent-Disposition: form-data; name="courseId"\r\n\r\n{course_id}\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="notes"\r\n\r\n').encode() + ignored + b"\r\n"
    parts = b"".join(f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\n'
                     f"Content-Type: application/octet-stream\r\n\r\n".encode() + data + b"\r\n" for name, data in files)
    return head + parts + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def post_raw(server, headers, body, content_type, chunked=False, length=None):
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        if chunked:
            chunks = (body[i:i + CHUNK] for i in range(0, len(body), CHUNK))
            connection.request("POST", "/api/submissions", chunks, encode_chunked=True,
                               headers={**headers, "Content-Type": content_type, "Transfer-Encoding": "chunked"})
        else:  # headers only: the body is announced but never sent
            connection.putrequest("POST", "/api/submissions")
            for name, value in {**headers, "Content-Type": content_type, "Content-Length": str(length)}.items():
                connection.putheader(name, value)
            connection.endheaders()
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_upload_limits_hold_over_a_real_socket_chunked_or_not(live_server, db, settings):
    server = live_server()
    headers = server.sign_in(create_user(db))
    course = create_course(db, price=0)
    call("POST", server.url + "/api/enroll", {"courseId": course["_id"]}, headers)

    started = time.monotonic()
    status, body = post_raw(server, headers, None, "multipart/form-data; boundary=b", length=MAX_UPLOAD_BYTES + 1)
    assert (status, b"payload_too_large" in body) == (413, True)
    assert time.monotonic() - started < 5, "refused from the Content-Length, before reading"

    body, content_type = multipart(course["_id"], ("a.pdf", PDF), ("b.txt", TEXT))
    status, answer = post_raw(server, headers, body, content_type, chunked=True)
    assert status == 201, answer
    # Five files of 9 MiB, each within its own limit, and a field nobody reads take the whole past 51 MiB.
    body, content_type = multipart(course["_id"], *[(f"{n}.pdf", PDF + bytes(9 << 20)) for n in range(5)],
                                   ignored=bytes(7 << 20))
    status, answer = post_raw(server, headers, body, content_type, chunked=True)
    assert (status, b"payload_too_large" in answer) == (413, True)
    assert db.submissions.count_documents({}) == 1 and len(db.submissions.find_one()["files"]) == 2
    assert len(stored_files(settings)) == 2  # the same data dir as the live server's
