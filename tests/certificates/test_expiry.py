"""Certificate expiry: a course's ``certificateValidityDays`` gives its certificates an
``expiresAt`` at issue; from that instant every verification (JSON, page, status endpoint,
credential) says ``expired``; a revocation wins over it; re-issue and course changes keep the
dates a certificate was issued with."""
from datetime import timedelta

from lms.certificates import badges as credentials, shapes as certificates
from lms.db import iso, now
from support.app import adapters
from support.certificates import drain
from support.factories import create_course, issued_certificate


def expiring(db, settings, days=365, **course_fields):
    return issued_certificate(db, settings, course=create_course(db, certificateValidityDays=days, **course_fields))


def set_dates(db, cert, **dates):
    db.certificates.update_one({"_id": cert["_id"]}, {"$set": dates})
    return db.certificates.find_one({"_id": cert["_id"]})


def everywhere(client, cert_id):
    """The status each verification route gives right now."""
    answers = {"lookup": client.get(f"/api/certificates/{cert_id}").json,
               "status": client.get(f"/api/certificates/{cert_id}/status").json}
    page = client.get(f"/verify/{cert_id}")
    answers["page"] = {"status": page.html.find("div", class_="status")["class"][1], "text": page.text}
    return answers


def test_a_course_validity_gives_its_certificates_an_expiry_shown_everywhere(client, db, settings):
    cert = expiring(db, settings, days=365)
    assert cert["expiresAt"] == cert["issuedAt"] + timedelta(days=365)
    shown = everywhere(client, cert["certId"])
    assert shown["lookup"]["status"] == shown["status"]["status"] == shown["page"]["status"] == "active"
    assert shown["lookup"]["expiresAt"] == shown["status"]["expiresAt"] == iso(cert["expiresAt"])
    assert "Valid until" in shown["page"]["text"] and f"{cert['expiresAt']:%B %Y}" in shown["page"]["text"]

    answer = client.get(f"/api/certificates/{cert['certId']}/credential").json
    jwks = client.get("/.well-known/jwks.json").json
    claims, expired = credentials.verify(answer["jwt"], jwks)
    assert claims["validUntil"] == iso(cert["expiresAt"]) and not expired
    assert claims["exp"] == int(cert["expiresAt"].timestamp())


def test_a_certificate_without_validity_never_expires(client, db, settings):
    cert = issued_certificate(db, settings)
    assert cert["expiresAt"] is None
    assert client.get(f"/api/certificates/{cert['certId']}").json["expiresAt"] is None
    assert "expiresAt" not in client.get(f"/api/certificates/{cert['certId']}/status").json
    assert "validUntil" not in client.get(f"/api/certificates/{cert['certId']}/credential").json["credential"]
    assert "Valid until" not in client.get(f"/verify/{cert['certId']}").text


def test_just_before_its_expiry_a_certificate_is_active_and_from_then_on_expired(client, db, settings, runtime):
    cert = expiring(db, settings)
    year_ago = now() - timedelta(days=365)
    cert = set_dates(db, cert, issuedAt=year_ago, expiresAt=now() + timedelta(seconds=30))
    before = everywhere(client, cert["certId"])
    assert {before["lookup"]["status"], before["status"]["status"], before["page"]["status"]} == {"active"}
    assert before["lookup"]["share"] is not None

    cert = set_dates(db, cert, expiresAt=now())  # every read from here on is at or past it
    runtime.cache.clear({"certificates"})  # as the cache's few seconds (lms.cache.TTL) would
    after = everywhere(client, cert["certId"])
    assert {after["lookup"]["status"], after["status"]["status"], after["page"]["status"]} == {"expired"}
    assert after["status"]["expiresAt"] == iso(cert["expiresAt"])
    assert "Expired: this certificate is no longer current" in after["page"]["text"]
    assert "Valid certificate" not in after["page"]["text"]
    # Still verifiable as genuine: the date, PDF and hash stay; only sharing it stops.
    assert after["lookup"]["hash"] == cert["hash"] and after["lookup"]["share"] is None
    token = client.get(f"/api/certificates/{cert['certId']}/credential").json["jwt"]
    assert credentials.verify(token, client.get("/.well-known/jwks.json").json)[1] is True
    assert db.certificates.find_one({"_id": cert["_id"]})["status"] == "active"  # judged, never stored


def test_the_boundary_instant_itself_is_expired_for_the_record_and_the_credential(db, settings):
    cert = expiring(db, settings)
    millisecond = timedelta(milliseconds=1)
    assert certificates.public_status(cert, at=cert["expiresAt"] - millisecond) == "active"
    assert certificates.public_status(cert, at=cert["expiresAt"]) == "expired"
    opened = adapters(settings)
    _, token = credentials.sign(db, opened.keyring, opened.urls, settings.org_name, cert)
    jwks = opened.keyring.jwks()
    exp = int(cert["expiresAt"].timestamp())
    assert credentials.verify(token, jwks, now=exp - 1)[1] is False
    assert credentials.verify(token, jwks, now=exp)[1] is True


def test_a_revocation_wins_over_an_expiry(signed_in, client, db, settings):
    cert = expiring(db, settings)
    signed_in("admin").post_json(f"/api/admin/certificates/{cert['certId']}/revoke", {"reason": "Fraud"})
    set_dates(db, cert, expiresAt=now() - timedelta(days=1))
    shown = everywhere(client, cert["certId"])
    assert {shown["lookup"]["status"], shown["status"]["status"], shown["page"]["status"]} == {"revoked"}
    assert shown["status"]["revokeReason"] == "Fraud"


def test_re_issue_keeps_both_dates_and_a_course_change_touches_no_issued_certificate(signed_in, db, settings):
    staff = signed_in("admin")
    cert = expiring(db, settings, days=30)
    staff.put_json(f"/api/admin/courses/{cert['courseId']}", {"certificateValidityDays": 3650})
    assert db.certificates.find_one({"_id": cert["_id"]})["expiresAt"] == cert["expiresAt"]

    staff.post_json(f"/api/admin/certificates/{cert['certId']}/issue", {})
    assert drain(db, settings) == ["active"]
    again = db.certificates.find_one({"_id": cert["_id"]})
    assert (again["issuedAt"], again["expiresAt"]) == (cert["issuedAt"], cert["expiresAt"])
    assert again["renderedAt"] > cert["renderedAt"]

    listed = staff.get("/api/admin/certificates").json["items"][0]
    assert listed["expiresAt"] == iso(cert["expiresAt"]) and listed["status"] == "active"


def test_a_validity_set_after_a_certificate_was_issued_does_not_apply_to_it(signed_in, client, db, settings):
    cert = issued_certificate(db, settings)
    signed_in("admin").put_json(f"/api/admin/courses/{cert['courseId']}", {"certificateValidityDays": 1})
    set_dates(db, cert, issuedAt=now() - timedelta(days=30))
    assert client.get(f"/api/certificates/{cert['certId']}").json["status"] == "active"
    assert db.certificates.find_one({"_id": cert["_id"]})["expiresAt"] is None
