"""The public verification page: what it says for each status, its headers, escaping, errors,
and the same pages loaded by a real browser (headless Chromium) that must report no
Content-Security-Policy violation."""
import base64
import hashlib
import html
import http.server
import re
import shutil
import subprocess
import threading

import pytest

from lms.db import free_port
from support.app import browser
from support.factories import create_course, create_user, issued_certificate, pending_certificate
from support.waits import wait_until

HOSTILE = '<script>alert(1)</script> "Bobby" & Co'


def issued(db, settings, **user_fields):
    return issued_certificate(db, settings, course=create_course(db, title="MERN Bootcamp"), **user_fields)


def policy(response):
    return dict(part.strip().split(" ", 1) for part in response.headers["Content-Security-Policy"].split(";"))


def test_an_active_certificate_page_shows_every_detail_under_a_strict_policy(client, db, settings):
    cert = issued(db, settings, name="Zoë Ñúñez")
    page = client.get(f"/verify/{cert['certId']}")
    assert page.content_type == "text/html" and page.charset == "utf-8"
    for expected in ("Valid certificate", "Zoë Ñúñez", "MERN Bootcamp", cert["certId"], cert["hash"],
                     f"{cert['issuedAt'].day} {cert['issuedAt']:%B %Y}"):
        assert expected in page.text
    assert page.html.find("a", class_="button")["href"] == cert["pdfUrl"]
    preview = page.html.find("figure", class_="sheet")
    assert preview.find("img")["src"] == cert["previewUrl"] and preview.find("a")["href"] == cert["pdfUrl"]
    assert page.html.find("object") is None, "no embedded PDF: an empty box on phones"

    csp = policy(page)
    css = page.html.find("style").string
    assert csp["style-src"] == "'sha256-" + base64.b64encode(hashlib.sha256(css.encode()).digest()).decode() + "'"
    assert csp["default-src"] == "'none'" and "script-src" not in csp and "unsafe" not in str(csp)
    assert csp["img-src"] == "data: https://lms.test"  # where the preview is stored
    assert csp["object-src"] == csp["frame-src"] == "'none'"
    assert (csp["frame-ancestors"], csp["base-uri"], csp["form-action"]) == ("'none'", "'none'", "'self'")
    assert page.html.find(style=True) is None, "no style attributes: the policy would block them"
    assert page.headers["X-Frame-Options"] == "DENY" and page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["Cache-Control"] == "public, max-age=5" and page.headers["X-Robots-Tag"] == "noindex"


def test_a_revoked_certificate_says_so_with_date_and_reason(signed_in, client, db, settings):
    cert = issued(db, settings)
    signed_in("admin").post_json(f"/api/admin/certificates/{cert['certId']}/revoke",
                                 {"reason": "Plagiarised <b>project</b>"})
    page = client.get(f"/verify/{cert['certId']}")
    assert "Revoked: this certificate is no longer valid" in page.text and "Valid certificate" not in page.text
    assert "Reason: Plagiarised &lt;b&gt;project&lt;/b&gt;" in page.text
    assert page.html.find("div", class_="status")["class"] == ["status", "revoked"]


def test_a_pending_certificate_shows_no_pdf_hash_or_date(client, db, settings):
    cert = pending_certificate(db, settings)
    page = client.get(f"/verify/{cert['certId']}")
    assert "Not issued yet" in page.text and "Valid certificate" not in page.text
    assert page.html.find("figure") is None and "SHA-256" not in page.text and "Issued on" not in page.text
    assert policy(page)["img-src"] == "data:"
    assert page.headers["Cache-Control"] == "no-store", "a pending answer changes by itself: never kept"


def test_hostile_values_are_escaped(client, db, settings):
    cert = issued(db, settings, name=HOSTILE)
    page = client.get(f"/verify/{cert['certId']}")
    assert "<script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &quot;Bobby&quot; &amp; Co" in page.text
    assert page.html.find("dd", class_="name").text == HOSTILE


def test_ids_are_matched_in_any_case_and_tracking_parameters_are_ignored(client, db, settings):
    cert = issued(db, settings)
    assert cert["certId"] in client.get(f"/verify/{cert['certId'].lower()}?utm_source=linkedin").text


@pytest.mark.parametrize("cert_id", ["CERT-0000000000", "garbage", "CERT-<b>x<b>"])
def test_an_unknown_id_is_a_404_page_with_the_form(client, db, cert_id):
    page = client.get(f"/verify/{cert_id}", status=404)
    assert page.content_type == "text/html" and page.html.find("form")["action"] == "/verify"
    assert "No certificate has the ID" in page.text and "<b>" not in page.text


def test_the_form_redirects_to_the_certificate_page(client, db, settings):
    cert = issued(db, settings)
    form = client.get("/verify")
    assert form.html.find("input", id="certId")["name"] == "certId" and "role=\"alert\"" not in form.text
    moved = client.get("/verify", {"certId": f"  {cert['certId'].lower()} "}, status=303)
    assert moved.headers["Location"].endswith(f"/verify/{cert['certId']}")
    assert "Valid certificate" in moved.follow().text
    assert "No certificate has the ID NOT-AN-ID" in client.get("/verify?certId=not-an-id", status=404).text


def test_page_lookups_are_rate_limited_with_an_html_answer(client, db, settings):
    cert = pending_certificate(db, settings)
    for n in range(120):  # unknown ids always reach the database, so they always count
        client.get(f"/verify/CERT-{n:010d}", status=404)
    page = client.get(f"/verify/{cert['certId']}", status=429)
    assert page.content_type == "text/html" and "Too many lookups" in page.text
    assert int(page.headers["Retry-After"]) >= 1
    other = browser(client.app)
    other.extra_environ["REMOTE_ADDR"] = "198.51.100.9"
    other.get(f"/verify/{cert['certId']}")


# --- in a real browser --------------------------------------------------------------------

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(
    not CHROMIUM, reason="Chromium is not installed (apt-get install chromium; .ci/run does)")


def chromium(url, tmp_path):
    """(the DOM after load, the console messages) of ``url`` in headless Chromium."""
    result = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--virtual-time-budget=3000",
         f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0", "--dump-dom", url],
        capture_output=True, text=True, timeout=90)
    console = [line for line in result.stderr.splitlines() if ":CONSOLE" in line]
    return result.stdout, console


def text_of(dom):
    body = re.sub(r"<(style|head)[^>]*>.*?</\1>", " ", dom, flags=re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", body).split())


@needs_chromium
def test_the_browser_check_catches_a_policy_violation(tmp_path):
    """The detector works with this Chromium: a page breaking its own policy is reported."""
    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = b'<!doctype html><p style="color:red">styled</p><script>document.title = "ran"</script>'
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Security-Policy", "default-src 'none'")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        dom, console = chromium(f"http://127.0.0.1:{server.server_address[1]}/", tmp_path)
    finally:
        server.shutdown()
    assert "styled" in dom and "<title>ran" not in dom
    assert len([m for m in console if "Content Security Policy" in m]) == 2, console


@needs_chromium
def test_chromium_shows_each_page_and_logs_no_violation(live_server, db, settings, signed_in, tmp_path):
    port = free_port()  # the PDF is served by the same server, as with local storage in production
    server = live_server(PORT=str(port), LMS_PUBLIC_URL=f"http://127.0.0.1:{port}", LMS_WORKER="1")
    course = create_course(db, title="MERN Bootcamp")
    valid = pending_certificate(db, settings, user=create_user(db, name=HOSTILE), course=course)
    revoked = pending_certificate(db, settings, course=course)
    assert wait_until(lambda: db.certificates.count_documents({"status": "active"}) == 2, timeout=20)
    signed_in("admin").post_json(f"/api/admin/certificates/{revoked['certId']}/revoke", {"reason": "Fraud"})
    waiting = pending_certificate(db, settings, course=course)
    db.certificates.update_one({"_id": waiting["_id"]}, {"$set": {"status": "failed"}})  # stays unissued
    valid = db.certificates.find_one({"_id": valid["_id"]})

    expectations = {
        f"/verify/{valid['certId']}": ["Valid certificate", HOSTILE, "MERN Bootcamp", valid["certId"],
                                       valid["hash"], "Download the PDF"],
        f"/verify/{revoked['certId']}": ["Revoked: this certificate is no longer valid", "Reason: Fraud"],
        f"/verify/{waiting['certId']}": ["Not issued yet"],
        "/verify": ["Verify a certificate", "Certificate ID"],
        "/verify/CERT-0000000000": ["No certificate has the ID CERT-0000000000"],
    }
    for path, texts in expectations.items():
        dom, console = chromium(server.url + path, tmp_path)
        assert console == [], f"{path}: {console}"
        assert "<script" not in dom
        shown = html.unescape(text_of(dom))
        for text in texts:
            assert text in shown, f"{path}: {text!r} not in {shown[:500]}"


def test_an_expired_certificate_page_says_so_and_offers_no_sharing(client, db, settings):
    cert = issued(db, settings)
    db.certificates.update_one({"_id": cert["_id"]}, {"$set": {"expiresAt": cert["issuedAt"]}})
    page = client.get(f"/verify/{cert['certId']}")
    assert page.html.find("div", class_="status")["class"] == ["status", "expired"]
    assert "Expired: this certificate is no longer current" in page.text and "Valid certificate" not in page.text
    assert "Valid until" in page.text and cert["hash"] in page.text and "Add to LinkedIn" not in page.text


@needs_chromium
def test_chromium_shows_the_sharing_link_and_an_expiry_without_a_violation(live_server, db, settings, tmp_path):
    port = free_port()
    server = live_server(PORT=str(port), LMS_PUBLIC_URL=f"http://127.0.0.1:{port}", LMS_WORKER="1")
    course = create_course(db, title="MERN Bootcamp", certificateValidityDays=365)
    current, lapsed = (pending_certificate(db, settings, course=course) for _ in range(2))
    assert wait_until(lambda: db.certificates.count_documents({"status": "active"}) == 2, timeout=20)
    issued_at = db.certificates.find_one({"_id": lapsed["_id"]})["issuedAt"]
    db.certificates.update_one({"_id": lapsed["_id"]}, {"$set": {"expiresAt": issued_at}})

    for cert, texts, absent in ((current, ["Valid certificate", "Valid until", "Add to LinkedIn"], "Expired"),
                                (lapsed, ["Expired: this certificate is no longer current"], "Add to LinkedIn")):
        dom, console = chromium(f"{server.url}/verify/{cert['certId']}", tmp_path)
        assert console == [], console
        shown = html.unescape(text_of(dom))
        assert all(text in shown for text in texts) and absent not in shown, shown[:500]
