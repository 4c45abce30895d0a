"""Storing certificates on S3 (moto's server on loopback) and surviving storage outages: the
rendered files wait in the spool, the upload is retried with capped backoff honouring what the
service said (Retry-After, Cloudinary's 420 with X-FeatureRateLimit-Reset) for up to
LMS_STORAGE_RETRY_HOURS, then ``failed``; the five render attempts are never spent on uploads."""
import hashlib
import urllib.request
from datetime import datetime, timedelta, timezone

from lms.certificates import issuing
from lms.db import now
from support.app import app_with, browser
from support.certificates import drain, make_due
from support.factories import pending_certificate

SUFFIXES = (".pdf", ".png", "-revoked.pdf", "-revoked.png")


def test_certificates_go_to_a_private_bucket_and_are_read_through_presigned_urls(db, make_settings, s3_double):
    settings = make_settings(LMS_S3_URL=s3_double.url)
    cert = pending_certificate(db, settings)
    assert drain(db, settings) == ["active"]
    done = db.certificates.find_one({"_id": cert["_id"]})
    assert s3_double.keys() == sorted(f"certificates/{cert['certId']}{s}" for s in SUFFIXES)
    assert hashlib.sha256(s3_double.object(done["storageKey"])).hexdigest() == done["hash"]
    assert done["pdfUrl"] == f"https://lms.test/files/certificates/{cert['certId']}.pdf"  # a link that never expires

    with app_with(make_settings, LMS_S3_URL=s3_double.url) as (_, app):
        redirect = browser(app).get(f"/files/certificates/{cert['certId']}.pdf", status=303)
    location = redirect.headers["Location"]
    assert location.startswith(s3_double.endpoint + f"/lms-test/certificates/{cert['certId']}.pdf?")
    assert "X-Amz-Signature=" in location and "X-Amz-Expires=600" in location
    assert redirect.headers["Cache-Control"] == "no-store"
    with urllib.request.urlopen(location) as response:  # what a browser fetches next
        assert hashlib.sha256(response.read()).hexdigest() == done["hash"]


def test_an_s3_outage_delays_the_certificate_and_it_becomes_active_without_staff(db, make_settings, s3_double):
    settings = make_settings(LMS_S3_URL=s3_double.url)
    cert = pending_certificate(db, settings)
    s3_double.stop()
    outcomes = []
    for _ in range(7):  # more failed uploads than there are render attempts
        outcomes += drain(db, settings)
        make_due(db, cert["certId"])
    waiting = db.certificates.find_one({"_id": cert["_id"]})
    assert outcomes == ["pending"] * 7 and waiting["status"] == "pending"
    assert (waiting["attempts"], waiting["storageAttempts"]) == (0, 7)
    assert "EndpointConnectionError" in waiting["lastError"]
    assert db.certificateSpool.count_documents({"_id": cert["_id"]}) == 1
    renders = db.auditLogs.count_documents({"action": "certificate.issue"})

    s3_double.start()
    make_due(db, cert["certId"])
    assert drain(db, settings) == ["active"]
    done = db.certificates.find_one({"_id": cert["_id"]})
    assert (done["attempts"], done["storageAttempts"], done["storageFailingSince"]) == (1, 0, None)
    assert hashlib.sha256(s3_double.object(done["storageKey"])).hexdigest() == done["hash"]
    assert db.certificateSpool.count_documents({}) == 0 and renders == 0
    assert db.mails.count_documents({"ref.id": cert["_id"]}) == 1  # announced once, when stored


def test_the_upload_backoff_doubles_and_is_capped():
    assert [issuing.storage_backoff(n) for n in (1, 2, 3, 4, 7, 8, 20)] == [10, 20, 40, 80, 640, 900, 900]


def test_cloudinary_rate_limit_is_waited_out_until_its_reset(db, make_settings, cloudinary_double):
    settings = make_settings(CLOUDINARY_URL=cloudinary_double.url)
    cert = pending_certificate(db, settings)
    reset = (datetime.now(timezone.utc) + timedelta(minutes=7)).replace(microsecond=0)
    cloudinary_double.rate_limit_next(1, reset)

    assert drain(db, settings) == ["pending"]
    waiting = db.certificates.find_one({"_id": cert["_id"]})
    assert "answered 420" in waiting["lastError"] and waiting["attempts"] == 0
    assert abs((waiting["nextAttemptAt"] - reset).total_seconds()) <= 2, "not 10 s: when the limit resets"
    assert cloudinary_double.uploads == {}

    make_due(db, cert["certId"])
    assert drain(db, settings) == ["active"]
    assert len(cloudinary_double.uploads) == 4


def test_a_retry_after_longer_than_the_backoff_is_honoured(db, make_settings, cloudinary_double):
    settings = make_settings(CLOUDINARY_URL=cloudinary_double.url)
    cert = pending_certificate(db, settings)
    cloudinary_double.fail_next(1, 503, {"Retry-After": "120"})
    assert drain(db, settings) == ["pending"]
    wait = db.certificates.find_one({"_id": cert["_id"]})["nextAttemptAt"] - now()
    assert timedelta(seconds=117) < wait <= timedelta(seconds=120)


def test_after_the_retry_window_the_certificate_is_failed_and_a_reissue_starts_afresh(
        db, make_settings, cloudinary_double, signed_in):
    settings = make_settings(CLOUDINARY_URL=cloudinary_double.url, LMS_STORAGE_RETRY_HOURS="1")
    cert = pending_certificate(db, settings)
    cloudinary_double.fail_next(3)
    assert drain(db, settings) == ["pending"]
    first = db.certificates.find_one({"_id": cert["_id"]})["storageFailingSince"]
    make_due(db, cert["certId"])
    assert drain(db, settings) == ["pending"]
    assert db.certificates.find_one({"_id": cert["_id"]})["storageFailingSince"] == first  # kept from the first

    db.certificates.update_one({"_id": cert["_id"]}, {"$set": {"storageFailingSince": now() - timedelta(hours=1)}})
    make_due(db, cert["certId"])
    assert drain(db, settings) == ["failed"]
    failed = db.certificates.find_one({"_id": cert["_id"]})
    assert failed["status"] == "failed" and db.certificateSpool.count_documents({}) == 0
    [entry] = db.auditLogs.find({"action": "certificate.fail", "targetId": cert["certId"]})
    assert entry["details"]["stage"] == "upload"

    signed_in("instructor").post_json(f"/api/admin/certificates/{cert['certId']}/issue", {})
    assert drain(db, settings) == ["active"]  # the double answers again
