"""A course's certificates in bulk: re-issue every active one with the current design in the
worker, with progress visible, and download them all as a streamed ZIP."""
import hashlib
import io
import urllib.request
import zipfile

from lms.certificates import bulk
from lms.db import new_id
from support.certificates import WORKER, drain
from support.factories import create_course, create_user, issued_certificate, pending_certificate, teaching


def test_a_bulk_reissue_requeues_every_active_certificate_and_reports_progress(signed_in, db, settings):
    course = create_course(db, price=0)
    active = [issued_certificate(db, settings, course=course) for _ in range(3)]
    revoked = issued_certificate(db, settings, course=course)
    staff, admin = signed_in("instructor"), signed_in("admin")
    teaching(db, course, staff)
    admin.post_json(f"/api/admin/certificates/{revoked['certId']}/revoke", {"reason": "Fraud"})
    other = issued_certificate(db, settings)  # another course: untouched
    waiting = pending_certificate(db, settings, course=course)
    staff.put_json(f"/api/admin/courses/{course['_id']}/certificate-design", {"layout": "modern"})

    started = staff.post_json(f"/api/admin/courses/{course['_id']}/certificates/reissue", {}, status=202).json
    batch = started["batch"]
    assert (batch["status"], batch["total"], batch["requeued"], batch["rendered"]) == ("queued", 3, 0, 0)
    url = f"/api/admin/certificate-batches/{batch['id']}"

    bulk.run_due(db, WORKER)  # what the worker's task does
    shown = staff.get(url).json["batch"]
    assert (shown["status"], shown["requeued"], shown["skipped"], shown["waiting"]) == ("done", 3, 0, 3)
    assert db.certificates.find_one({"_id": revoked["_id"]})["status"] == "revoked"
    assert db.certificates.find_one({"_id": other["_id"]})["status"] == "active"
    public = staff.get(f"/api/certificates/{active[0]['certId']}").json
    assert (public["status"], public["hash"]) == ("active", active[0]["hash"])  # valid while it re-renders

    drain(db, settings)
    shown = staff.get(url).json["batch"]
    assert (shown["rendered"], shown["waiting"], shown["failed"]) == (3, 0, 0)
    for cert in active:
        again = db.certificates.find_one({"_id": cert["_id"]})
        assert again["design"]["layout"] == "modern" and again["hash"] != cert["hash"]
        assert again["issuedAt"] == cert["issuedAt"]  # the date printed on it stays
    assert "reissueBatch" not in db.certificates.find_one({"_id": waiting["_id"]}), "only active ones"
    [entry] = db.auditLogs.find({"action": "certificate.bulk_reissue"})
    assert (entry["actorId"], entry["details"]["total"]) == (staff.user["_id"], 3)
    assert db.auditLogs.count_documents({"action": "certificate.reissue", "details.batch": batch["id"]}) == 3
    bulk.run_due(db, WORKER)
    assert staff.get(url).json["batch"]["requeued"] == 3, "a finished batch is not run again"


def test_unknown_courses_and_batches_are_404_and_students_are_refused(signed_in, db):
    staff = signed_in("instructor")
    staff.post_json(f"/api/admin/courses/{new_id()}/certificates/reissue", {}, status=404)
    staff.get(f"/api/admin/certificate-batches/{new_id()}", status=404)
    staff.get(f"/api/admin/courses/{new_id()}/certificates.zip", status=404)
    signed_in().post_json(f"/api/admin/courses/{create_course(db)['_id']}/certificates/reissue", {}, status=403)


def test_the_zip_holds_every_issued_pdf_of_the_course_and_is_streamed(live_server, db, settings):
    course = create_course(db, price=0, slug="mern")
    certs = [issued_certificate(db, settings, course=course) for _ in range(3)]
    issued_certificate(db, settings)
    pending_certificate(db, settings, course=course)
    server = live_server(LMS_DATA_DIR=str(settings.data_dir))  # the same files
    instructor = create_user(db, "instructor")
    teaching(db, course, instructor)
    request = urllib.request.Request(f"{server.url}/api/admin/courses/{course['_id']}/certificates.zip",
                                     headers=server.sign_in(instructor))
    with urllib.request.urlopen(request) as response:
        headers, body = response.headers, response.read()
    assert headers["Content-Type"] == "application/zip"
    assert headers["Transfer-Encoding"] == "chunked" and "Content-Length" not in headers  # written as it goes
    assert headers["Content-Disposition"] == 'attachment; filename="certificates-mern.zip"'
    archive = zipfile.ZipFile(io.BytesIO(body))
    assert sorted(archive.namelist()) == sorted(f"{c['certId']}.pdf" for c in certs)
    for cert in certs:
        assert hashlib.sha256(archive.read(f"{cert['certId']}.pdf")).hexdigest() == cert["hash"]
