"""Certificates: the worker's job (real wkhtmltopdf, local storage, the real Cloudinary SDK against
its double), retries and the failed state, public verification, revocation and re-issue.

The job runs here through ``issuing.claim``/``issuing.issue``, the functions a worker slot runs;
``tests/worker/test_worker.py`` runs the same job in real worker processes.
"""
import email
import email.policy
import hashlib
import os
import urllib.request
from datetime import timedelta

import pytest

from lms.adapters.mail import Outbox, queue as mailqueue
from lms.certificates import issuing
from lms.certificates.records import JOBS
from lms.db import now
from support.app import adapters, browser
from support.certificates import WORKER, drain, fake_wkhtmltopdf, issue, make_due, pdf_text, stored_pdf
from support.factories import create_course, create_user, issued_certificate, pending_certificate


def audits(db, action, cert):
    return list(db.auditLogs.find({"action": action, "targetId": cert["certId"]}))


# --- the job ----------------------------------------------------------------------------

def test_the_job_renders_stores_hashes_activates_mails_and_notifies(db, make_settings):
    settings = make_settings(LMS_ORG_NAME="Acme Academy")
    student = create_user(db, name="Zoë Ñúñez")
    cert = pending_certificate(db, settings, user=student, course=create_course(db, title="MERN Bootcamp"))

    assert drain(db, settings) == ["active"]

    done = db.certificates.find_one({"_id": cert["_id"]})
    key = f"certificates/{cert['certId']}.pdf"
    assert (done["status"], done["storageKey"], done["attempts"]) == ("active", key, 1)
    assert done["pdfUrl"] == f"https://lms.test/files/{key}"
    pdf = stored_pdf(settings, done)
    assert done["hash"] == hashlib.sha256(pdf).hexdigest()
    assert done["issuedAt"] and "leaseUntil" not in done and "claimedBy" not in done
    text = pdf_text(pdf)
    for expected in ("Zoë Ñúñez", "MERN Bootcamp", cert["certId"], f"https://lms.test/verify/{cert['certId']}",
                     "Acme Academy"):
        assert expected in text
    [entry] = audits(db, "certificate.issue", cert)
    assert entry["actorId"] == "system" and entry["details"]["hash"] == done["hash"]

    [mail] = db.mails.find()
    assert (mail["to"], mail["kind"], mail["ref"]) == (student["email"], "certificate",
                                                       {"collection": "certificates", "id": cert["_id"]})
    assert f"https://lms.test/verify/{cert['certId']}" in mail["text"] and done["pdfUrl"] in mail["text"]
    assert done["emailStatus"] == "queued"
    [note] = db.notifications.find({"userId": student["_id"]})
    assert (note["kind"], note["link"]) == ("certificate.issued", f"https://lms.test/verify/{cert['certId']}")

    outbox = Outbox(settings.data_dir / "outbox", settings.mail_from)
    assert mailqueue.deliver_due(db, outbox, WORKER) == 1
    message = email.message_from_bytes(outbox.messages()[0].read_bytes(), policy=email.policy.default)
    assert message["To"] == student["email"] and "MERN Bootcamp" in message["Subject"]
    assert f"https://lms.test/verify/{cert['certId']}" in message.get_body(("plain",)).get_content()
    assert db.certificates.find_one({"_id": cert["_id"]})["emailStatus"] == "sent"


def test_a_finished_job_is_never_done_again(db, settings):
    cert = pending_certificate(db, settings)
    drain(db, settings)
    before = db.certificates.find_one({"_id": cert["_id"]})
    assert drain(db, settings) == []
    assert db.certificates.find_one({"_id": cert["_id"]}) == before
    assert len(audits(db, "certificate.issue", cert)) == 1 and db.mails.count_documents({}) == 1


def test_the_real_cloudinary_sdk_uploads_the_pdf_signed(db, make_settings, cloudinary_double):
    settings = make_settings(CLOUDINARY_URL=cloudinary_double.url)
    cert = pending_certificate(db, settings)
    assert drain(db, settings) == ["active"]
    done = db.certificates.find_one({"_id": cert["_id"]})
    uploads = [(action, params["public_id"]) for action, params in cloudinary_double.requests]  # all signed right
    assert uploads == [("upload", f"certificates/{cert['certId']}{suffix}")
                       for suffix in (".pdf", ".png", "-revoked.pdf", "-revoked.png")]
    assert done["pdfUrl"].startswith(cloudinary_double.base_url + "/lms-test/raw/upload/")
    with urllib.request.urlopen(done["pdfUrl"]) as response:
        assert hashlib.sha256(response.read()).hexdigest() == done["hash"]


def test_a_storage_failure_keeps_the_render_and_retries_the_upload_without_spending_an_attempt(
        db, make_settings, cloudinary_double):
    settings = make_settings(CLOUDINARY_URL=cloudinary_double.url)
    cert = pending_certificate(db, settings)
    cloudinary_double.fail_next(1)

    assert drain(db, settings) == ["pending"]
    waiting = db.certificates.find_one({"_id": cert["_id"]})
    assert waiting["attempts"] == 0, "an upload failure is not a render attempt"
    assert (waiting["storageAttempts"], "StorageError" in waiting["lastError"]) == (1, True)
    assert timedelta(seconds=8) < waiting["nextAttemptAt"] - now() <= timedelta(seconds=issuing.storage_backoff(1))
    assert (waiting["pdfUrl"], waiting["hash"], waiting.get("claimedBy")) == (None, None, None)
    spooled = db.certificateSpool.find_one({"_id": cert["_id"]})
    assert [f["key"] for f in spooled["files"]][0] == f"certificates/{cert['certId']}.pdf"
    assert cloudinary_double.uploads == {} and db.mails.count_documents({}) == 0
    assert db.notifications.count_documents({}) == 0 and audits(db, "certificate.issue", cert) == []
    assert drain(db, settings) == [], "not due before its backoff"

    make_due(db, cert["certId"])
    assert drain(db, settings) == ["active"]
    done = db.certificates.find_one({"_id": cert["_id"]})
    assert (done["attempts"], done["lastError"], done["storageAttempts"]) == (1, None, 0)
    assert cloudinary_double.uploads[f"certificates/{cert['certId']}.pdf"] == bytes(spooled["files"][0]["data"])
    assert done["hash"] == spooled["fields"]["hash"], "the spooled render was uploaded, not a new one"
    assert db.certificateSpool.count_documents({}) == 0


def test_the_fifth_failed_render_makes_it_failed_visible_to_staff_and_a_reissue_recovers_it(
        db, settings, signed_in, tmp_path, monkeypatch):
    cert = pending_certificate(db, settings)
    path = os.environ["PATH"]
    monkeypatch.setenv("PATH", fake_wkhtmltopdf(tmp_path / "bin", "echo 'Segmentation fault' >&2; exit 3"))
    statuses = []
    for _ in range(5):
        statuses += drain(db, settings)
        make_due(db, cert["certId"])
    assert statuses == ["pending"] * 4 + ["failed"]
    assert drain(db, settings) == [], "a failed certificate is not retried by itself"
    [entry] = audits(db, "certificate.fail", cert)
    assert entry["details"]["attempts"] == 5 and "RenderError" in entry["details"]["error"]
    monkeypatch.setenv("PATH", path)

    staff = signed_in("instructor")
    listed = staff.get("/api/admin/certificates?status=failed").json
    assert listed["total"] == 1
    shown = listed["items"][0]
    assert (shown["certId"], shown["status"], shown["attempts"]) == (cert["certId"], "failed", 5)
    assert "RenderError" in shown["lastError"]
    public = browser(staff.app).get(f"/api/certificates/{cert['certId']}").json
    assert (public["status"], public["pdfUrl"], public["hash"]) == ("pending", None, None)

    again = staff.post_json(f"/api/admin/certificates/{cert['certId']}/issue", {}).json["certificate"]
    assert (again["status"], again["attempts"], again["lastError"]) == ("pending", 0, None)
    [reissue] = audits(db, "certificate.reissue", cert)
    assert (reissue["actorId"], reissue["details"]["previousStatus"]) == (staff.user["_id"], "failed")
    assert drain(db, settings) == ["active"]


def test_a_render_error_is_a_retry(db, settings, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", fake_wkhtmltopdf(tmp_path / "bin", "echo 'Segmentation fault' >&2; exit 3"))
    cert = pending_certificate(db, settings)
    assert drain(db, settings) == ["pending"]
    waiting = db.certificates.find_one({"_id": cert["_id"]})
    assert "RenderError" in waiting["lastError"] and "exited with code 3" in waiting["lastError"]
    assert adapters(settings).storage.path_for(f"certificates/{cert['certId']}.pdf") is None


def test_a_job_whose_workers_keep_dying_is_failed_not_retried_for_ever(db, settings):
    cert = pending_certificate(db, settings)
    db.certificates.update_one({"_id": cert["_id"]}, {"$set": {
        "status": "rendering", "attempts": JOBS.max_attempts, "claimedBy": "dead-worker",
        "leaseUntil": now() - timedelta(seconds=1)}})
    assert drain(db, settings) == ["failed"]
    assert "worker stopped" in db.certificates.find_one({"_id": cert["_id"]})["lastError"]
    assert len(audits(db, "certificate.fail", cert)) == 1


def test_a_worker_that_lost_its_job_overwrites_nothing(db, settings):
    cert = pending_certificate(db, settings)
    late = issuing.claim(db, "slow-worker")
    make_due(db, cert["certId"])  # its lease ran out (a long pause), and another worker claims
    assert drain(db, settings) == ["active"]
    done = db.certificates.find_one({"_id": cert["_id"]})

    assert issue(db, settings, late, "slow-worker") is None
    assert db.certificates.find_one({"_id": cert["_id"]}) == done
    assert hashlib.sha256(stored_pdf(settings, done)).hexdigest() == done["hash"], "its PDF was not replaced"
    assert len(audits(db, "certificate.issue", cert)) == 1 and db.mails.count_documents({}) == 1


def test_hostile_names_are_printed_as_text_everywhere(db, settings):
    hostile = '<script>alert(1)</script> & "Bobby"'
    title = "<img src=x onerror=alert(2)> Tom & Jerry"
    cert = pending_certificate(db, settings, name=hostile, course=create_course(db, title=title))
    drain(db, settings)
    text = pdf_text(stored_pdf(settings, db.certificates.find_one({"_id": cert["_id"]})))
    assert hostile in text and title in text
    [mail] = db.mails.find()
    assert "&lt;script&gt;" in mail["html"] and "<script>" not in mail["html"] and "<img" not in mail["html"]


# --- public verification ------------------------------------------------------------------

def test_the_public_shape_of_an_active_certificate(client, db, settings):
    cert = pending_certificate(db, settings, course=create_course(db, title="MERN Bootcamp"))
    drain(db, settings)
    done = db.certificates.find_one({"_id": cert["_id"]})
    body = client.get(f"/api/certificates/{cert['certId']}").json
    certificate = {"certId": cert["certId"], "student": {"id": cert["userId"], "name": cert["studentName"]},
                   "course": {"id": cert["courseId"], "title": "MERN Bootcamp"},
                   "issuedAt": body["issuedAt"], "expiresAt": None, "pdfUrl": done["pdfUrl"],
                   "previewUrl": done["previewUrl"], "status": "active", "hash": done["hash"],
                   "verifyUrl": f"https://lms.test/verify/{cert['certId']}",
                   "share": {"linkedin": body["share"]["linkedin"]}}
    # DESIGN §9's top-level fields, and the same object under its singular name
    assert body == {"ok": True, **certificate, "certificate": certificate}
    assert done["previewUrl"] == f"https://lms.test/files/certificates/{cert['certId']}.png"
    assert body["issuedAt"].endswith("Z")
    assert client.get(f"/api/certificates/{cert['certId'].lower()}").json["certId"] == cert["certId"]


@pytest.mark.parametrize("status", ["pending", "rendering", "failed"])
def test_an_unissued_certificate_reads_pending_without_pdf_or_hash(client, db, settings, status):
    cert = pending_certificate(db, settings)
    db.certificates.update_one({"_id": cert["_id"]}, {"$set": {"status": status, "hash": "ab" * 32,
                                                               "pdfUrl": "https://old.example/x.pdf"}})
    body = client.get(f"/api/certificates/{cert['certId']}").json
    assert (body["status"], body["issuedAt"], body["pdfUrl"], body["hash"]) == ("pending", None, None, None)


@pytest.mark.parametrize("cert_id", ["CERT-0000000000", "nope", "CERT-%24ne", "x" * 300])
def test_an_unknown_certificate_is_404(client, db, cert_id):
    response = client.get(f"/api/certificates/{cert_id}", status=404)
    assert response.json["error"]["code"] == "not_found"


def test_public_lookups_that_reach_the_database_are_rate_limited_per_ip(client, db, settings):
    # The limit is against enumeration: unknown ids always count; an issued certificate's answer
    # is served from the short cache, so repeated lookups of it cost the database nothing.
    cert = issued_certificate(db, settings)
    client.get(f"/api/certificates/{cert['certId']}")
    for n in range(119):
        client.get(f"/api/certificates/CERT-{n:010d}", status=404)
    assert client.get(f"/api/certificates/{cert['certId']}").json["certId"] == cert["certId"]  # cached
    limited = client.get("/api/certificates/CERT-0000000999", status=429)
    assert limited.json["error"]["code"] == "rate_limited" and int(limited.headers["Retry-After"]) >= 1
    other = browser(client.app)
    other.extra_environ["REMOTE_ADDR"] = "198.51.100.9"
    assert other.get(f"/api/certificates/{cert['certId']}").json["certId"] == cert["certId"]


# --- revocation -------------------------------------------------------------------------

def test_an_admin_revokes_once_and_it_stays_verifiable(signed_in, db, settings):
    cert = pending_certificate(db, settings)
    drain(db, settings)
    admin = signed_in("admin")
    url = f"/api/admin/certificates/{cert['certId']}/revoke"
    revoked = admin.post_json(url, {"reason": "Plagiarised project"}).json["certificate"]
    assert (revoked["status"], revoked["revokedBy"], revoked["revokeReason"]) == \
        ("revoked", admin.user["_id"], "Plagiarised project")
    [entry] = audits(db, "certificate.revoke", cert)
    assert (entry["actorId"], entry["ip"], entry["details"]["reason"]) == \
        (admin.user["_id"], "203.0.113.7", "Plagiarised project")

    public = browser(admin.app).get(f"/api/certificates/{cert['certId']}").json
    assert (public["status"], public["revokeReason"]) == ("revoked", "Plagiarised project")
    assert public["revokedAt"] == revoked["revokedAt"] and public["hash"] and public["pdfUrl"]

    again = admin.post_json(url, {"reason": "Another reason"}, status=409)
    assert again.json["error"]["code"] == "already_revoked"
    assert db.certificates.find_one({"_id": cert["_id"]})["revokeReason"] == "Plagiarised project"
    assert len(audits(db, "certificate.revoke", cert)) == 1
    assert db.notifications.count_documents({"userId": cert["userId"], "kind": "certificate.revoked"}) == 1


@pytest.mark.parametrize("body", [{}, {"reason": ""}, {"reason": "   "}, {"reason": "x" * 501},
                                  {"reason": {"$ne": None}}])
def test_a_revocation_needs_a_reason(signed_in, db, settings, body):
    cert = pending_certificate(db, settings)
    response = signed_in("admin").post_json(f"/api/admin/certificates/{cert['certId']}/revoke", body, status=400)
    assert "reason" in response.json["error"]["fields"]
    assert db.certificates.find_one({"_id": cert["_id"]})["status"] == "pending"


def test_only_admins_revoke_and_unknown_ids_are_404(signed_in, client, db, settings):
    cert = pending_certificate(db, settings)
    url = f"/api/admin/certificates/{cert['certId']}/revoke"
    signed_in("instructor").post_json(url, {"reason": "no"}, status=403)
    signed_in("student").post_json(url, {"reason": "no"}, status=403)
    client.post_json(url, {"reason": "no"}, status=401)
    signed_in("admin").post_json("/api/admin/certificates/CERT-0000000000/revoke", {"reason": "x"}, status=404)
    assert db.certificates.find_one({"_id": cert["_id"]})["status"] == "pending"
    assert db.auditLogs.count_documents({"action": "certificate.revoke"}) == 0


def test_a_revocation_during_a_render_wins(signed_in, db, settings):
    cert = pending_certificate(db, settings)
    claimed = issuing.claim(db, WORKER)
    signed_in("admin").post_json(f"/api/admin/certificates/{cert['certId']}/revoke", {"reason": "Fraud"})
    assert issue(db, settings, claimed) is None
    after = db.certificates.find_one({"_id": cert["_id"]})
    assert (after["status"], after["pdfUrl"]) == ("revoked", None)
    assert adapters(settings).storage.path_for(f"certificates/{cert['certId']}.pdf") is None
    assert audits(db, "certificate.issue", cert) == [] and db.mails.count_documents({}) == 0


# --- re-issue ---------------------------------------------------------------------------

def test_a_reissue_renders_a_new_pdf_under_the_same_id_with_the_corrected_name(signed_in, db, settings):
    cert = pending_certificate(db, settings, name="Amit Kumr")
    drain(db, settings)
    first = db.certificates.find_one({"_id": cert["_id"]})
    db.users.update_one({"_id": cert["userId"]}, {"$set": {"name": "Amit Kumar"}})
    staff = signed_in("instructor")

    queued = staff.post_json(f"/api/admin/certificates/{cert['certId']}/issue", {}).json["certificate"]
    assert (queued["status"], queued["attempts"], queued["studentName"]) == ("pending", 0, "Amit Kumar")
    assert drain(db, settings) == ["active"]

    second = db.certificates.find_one({"_id": cert["_id"]})
    assert second["certId"] == first["certId"] and second["hash"] != first["hash"]
    assert second["issuedAt"] == first["issuedAt"], "the date on the certificate stays the first one"
    assert hashlib.sha256(stored_pdf(settings, second)).hexdigest() == second["hash"]
    assert "Amit Kumar" in pdf_text(stored_pdf(settings, second))
    [entry] = audits(db, "certificate.reissue", cert)
    assert entry["details"]["changes"] == {"studentName": {"from": "Amit Kumr", "to": "Amit Kumar"}}
    assert entry["details"]["previousHash"] == first["hash"]
    assert [m["subject"].endswith("re-issued") for m in db.mails.find().sort("createdAt", 1)] == [False, True]


def test_reissuing_a_revoked_certificate_needs_an_admin_to_restore_it(signed_in, db, settings):
    cert = pending_certificate(db, settings)
    drain(db, settings)
    admin, staff = signed_in("admin"), signed_in("instructor")
    admin.post_json(f"/api/admin/certificates/{cert['certId']}/revoke", {"reason": "Mistake"})
    url = f"/api/admin/certificates/{cert['certId']}/issue"

    assert staff.post_json(url, {}, status=409).json["error"]["code"] == "certificate_revoked"
    admin.post_json(url, {}, status=409)
    staff.post_json(url, {"restore": True}, status=403)
    assert db.certificates.find_one({"_id": cert["_id"]})["status"] == "revoked"

    restored = admin.post_json(url, {"restore": True}).json["certificate"]
    assert (restored["status"], restored["revokedAt"], restored["revokeReason"]) == ("pending", None, None)
    [entry] = audits(db, "certificate.reissue", cert)
    assert entry["details"]["restored"] is True and entry["details"]["previousRevokeReason"] == "Mistake"
    assert drain(db, settings) == ["active"]


def test_reissue_refuses_a_render_in_flight_and_unknown_ids(signed_in, db, settings):
    cert = pending_certificate(db, settings)
    issuing.claim(db, WORKER)
    staff = signed_in("instructor")
    response = staff.post_json(f"/api/admin/certificates/{cert['certId']}/issue", {}, status=409)
    assert response.json["error"]["code"] == "certificate_rendering"
    staff.post_json("/api/admin/certificates/CERT-0000000000/issue", {}, status=404)
    signed_in("student").post_json(f"/api/admin/certificates/{cert['certId']}/issue", {}, status=403)
    assert db.auditLogs.count_documents({"action": "certificate.reissue"}) == 0


def test_reissuing_a_waiting_certificate_retries_it_now(signed_in, db, settings):
    cert = pending_certificate(db, settings)
    db.certificates.update_one({"_id": cert["_id"]}, {"$set": {"attempts": 3,
                                                               "nextAttemptAt": now() + timedelta(minutes=5)}})
    signed_in("instructor").post_json(f"/api/admin/certificates/{cert['certId']}/issue", {})
    assert drain(db, settings) == ["active"]


# --- the staff list ---------------------------------------------------------------------

def test_staff_list_certificates_newest_first_with_filters(signed_in, db, settings):
    first, second = pending_certificate(db, settings), pending_certificate(db, settings)
    drain(db, settings)
    third = pending_certificate(db, settings)
    staff = signed_in("instructor")
    listed = staff.get("/api/admin/certificates?limit=2").json
    assert [c["certId"] for c in listed["items"]] == [third["certId"], second["certId"]]
    assert listed["total"] == 3 and "_id" not in listed["items"][0]
    assert [c["certId"] for c in staff.get("/api/admin/certificates?status=pending").json["items"]] == \
        [third["certId"]]
    mine = staff.get(f"/api/admin/certificates?userId={first['userId']}").json["items"]
    assert [c["certId"] for c in mine] == [first["certId"]]
    staff.get("/api/admin/certificates?status=bogus", status=400)
    signed_in("student").get("/api/admin/certificates", status=403)


def test_own_certificates_are_a_page_newest_first(signed_in, db, settings):
    student = signed_in()
    mine = [pending_certificate(db, settings, user=student.user) for _ in range(3)]
    pending_certificate(db, settings)  # someone else's
    first = student.get("/api/user/certificates?limit=2").json
    assert (first["page"], first["limit"], first["total"]) == (1, 2, 3)
    assert [c["certId"] for c in first["items"]] == [mine[2]["certId"], mine[1]["certId"]]
    second = student.get("/api/user/certificates?limit=2&page=2").json
    assert [c["certId"] for c in second["items"]] == [mine[0]["certId"]]
    assert student.get("/api/user/certificates?sort=old", status=400).json["error"]["fields"] == {
        "sort": "is not a known parameter"}
