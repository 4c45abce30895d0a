"""Sharing: the LinkedIn Add-to-Profile link in the verification answer and on the page, and the
page's Open Graph tags (what a link preview shows), escaped and within the page's strict policy."""
from datetime import datetime, timezone
from urllib.parse import parse_qsl, urlsplit

import pytest

from support.app import app_with, browser
from support.factories import create_course, issued_certificate, pending_certificate

HOSTILE_TITLE = 'C# & "Rust" <b>basics</b> 100% + more'


def linkedin(client, cert_id):
    link = client.get(f"/api/certificates/{cert_id}").json["share"]["linkedin"]
    parts = urlsplit(link)
    return link, f"{parts.scheme}://{parts.netloc}{parts.path}", parse_qsl(parts.query, strict_parsing=True)


def test_an_active_certificate_offers_a_linkedin_link_with_its_details(client, db, settings):
    cert = issued_certificate(db, settings, course=create_course(db, title=HOSTILE_TITLE))
    link, base, params = linkedin(client, cert["certId"])
    issued = cert["issuedAt"]
    assert base == "https://www.linkedin.com/profile/add"
    assert params == [("startTask", "CERTIFICATION_NAME"), ("name", HOSTILE_TITLE), ("organizationName", "LMS"),
                      ("issueYear", str(issued.year)), ("issueMonth", str(issued.month)),
                      ("certUrl", f"https://lms.test/verify/{cert['certId']}"), ("certId", cert["certId"])]
    assert " " not in link and "<" not in link and '"' not in link and link.count("#") == 0


def test_the_organisation_is_named_by_its_linkedin_id_when_configured(make_settings):
    with app_with(make_settings, LMS_ORG_NAME="Acme Academy", LMS_LINKEDIN_ORG_ID="2414183") as (runtime, app):
        cert = issued_certificate(runtime.db, runtime.settings)
        params = dict(linkedin(browser(app), cert["certId"])[2])
    assert params["organizationId"] == "2414183" and "organizationName" not in params


def test_an_expiring_certificate_carries_its_expiry_month(client, db, settings):
    cert = issued_certificate(db, settings, course=create_course(db, certificateValidityDays=400))
    db.certificates.update_one({"_id": cert["_id"]}, {"$set": {
        "expiresAt": datetime(2031, 1, 15, 12, tzinfo=timezone.utc)}})
    params = dict(linkedin(client, cert["certId"])[2])
    assert (params["expirationYear"], params["expirationMonth"]) == ("2031", "1")


@pytest.mark.parametrize("state", ["pending", "revoked", "expired"])
def test_only_an_active_certificate_can_be_shared(signed_in, client, db, settings, state):
    if state == "pending":
        cert = pending_certificate(db, settings)
    else:
        cert = issued_certificate(db, settings, course=create_course(db, certificateValidityDays=30))
    if state == "revoked":
        signed_in("admin").post_json(f"/api/admin/certificates/{cert['certId']}/revoke", {"reason": "Fraud"})
    if state == "expired":
        db.certificates.update_one({"_id": cert["_id"]}, {"$set": {"expiresAt": cert["issuedAt"]}})
    answer = client.get(f"/api/certificates/{cert['certId']}").json
    assert (answer["status"], answer["share"]) == (state, None)
    page = client.get(f"/verify/{cert['certId']}")
    assert "Add to LinkedIn" not in page.text and "linkedin.com" not in page.text


def test_the_page_links_to_linkedin_and_carries_escaped_open_graph_tags(client, db, settings):
    name = '<script>alert(1)</script> "Bobby" & Co'
    cert = issued_certificate(db, settings, course=create_course(db, title=HOSTILE_TITLE), name=name)
    link = client.get(f"/api/certificates/{cert['certId']}").json["share"]["linkedin"]
    page = client.get(f"/verify/{cert['certId']}")

    button = page.html.find("a", string="Add to LinkedIn")
    assert button["href"] == link and button["rel"] == ["noopener", "noreferrer"]
    meta = {tag.get("property") or tag.get("name"): tag["content"] for tag in page.html.find_all("meta", content=True)}
    url = f"https://lms.test/verify/{cert['certId']}"
    assert (meta["og:type"], meta["og:url"], meta["og:site_name"]) == ("website", url, "LMS")
    assert meta["og:title"] == f"Certificate {cert['certId']} · {name}"
    assert meta["description"] == meta["og:description"] == \
        f"{name} completed {HOSTILE_TITLE} with LMS: check certificate {cert['certId']} here."
    preview = client.get(f"/api/certificates/{cert['certId']}").json["previewUrl"]
    assert (meta["og:image"], meta["twitter:card"]) == (preview, "summary_large_image")  # phones show the PNG
    assert "<script>" not in page.text and "<b>basics" not in page.text

    # Meta tags and a link need no new source: the policy is the strict one of every verify page.
    policy = dict(part.strip().split(" ", 1) for part in page.headers["Content-Security-Policy"].split(";"))
    assert set(policy) == {"default-src", "style-src", "img-src", "object-src", "frame-src", "form-action",
                           "frame-ancestors", "base-uri"}
    assert policy["default-src"] == "'none'" and "linkedin" not in page.headers["Content-Security-Policy"]
