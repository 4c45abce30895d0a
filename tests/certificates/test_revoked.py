"""What a revoked certificate shows: the verify page's preview under a REVOKED overlay (the PNG
stamped REVOKED), the PDF link serving the copy stamped REVOKED, verify-by-PDF recognising the
original and the stamped copy as this revoked certificate, the files made at issue, and the REVOKED
copy made right after the activation (before any waiting render once the certificate is revoked)."""
import hashlib

from lms.certificates import baking, stamping
from lms.worker.schedule import certificate_tools
from support.certificates import WORKER, drain, pdf_text, stamp_copies, stored_pdf, tools
from support.factories import create_course, issued_certificate, pending_certificate


def revoke(signed_in, cert, reason="Plagiarised project"):
    return signed_in("admin").post_json(f"/api/admin/certificates/{cert['certId']}/revoke", {"reason": reason})


def local(url):
    return url.removeprefix("https://lms.test")


def test_issue_makes_the_pdf_its_png_and_their_revoked_copies(db, settings, client):
    cert = issued_certificate(db, settings, course=create_course(db, title="MERN Bootcamp"))
    public = client.get(f"/api/certificates/{cert['certId']}").json
    assert (public["pdfUrl"], public["previewUrl"]) == (cert["pdfUrl"], cert["previewUrl"])
    assert client.get(local(cert["previewUrl"])).content_type == "image/png"
    stamped = client.get(local(cert["revokedPdfUrl"])).body
    assert "This certificate was revoked" in pdf_text(stamped) and "MERN Bootcamp" in pdf_text(stamped)
    assert "revoked" not in pdf_text(stored_pdf(settings, cert)).lower()


def test_a_revoked_certificate_serves_the_stamped_pdf_and_keeps_the_original_hash(signed_in, db, settings, client):
    cert = issued_certificate(db, settings)
    original = stored_pdf(settings, cert)
    revoke(signed_in, cert)
    public = client.get(f"/api/certificates/{cert['certId']}").json
    assert public["status"] == "revoked" and public["hash"] == cert["hash"]
    assert (public["pdfUrl"], public["previewUrl"]) == (cert["revokedPdfUrl"], cert["revokedPreviewUrl"])
    stamped = client.get(local(public["pdfUrl"])).body
    assert "This certificate was revoked" in pdf_text(stamped)

    for data in (original, stamped):  # either file is recognised as this, revoked, certificate
        found = client.post("/api/certificates/verify-pdf", upload_files=[("file", "c.pdf", data)]).json
        assert found["match"] is True
        assert (found["certificate"]["certId"], found["certificate"]["status"]) == (cert["certId"], "revoked")


def test_links_sent_while_it_was_valid_lead_to_the_stamped_copies_once_revoked(signed_in, db, settings, client):
    cert = issued_certificate(db, settings)
    mailed_pdf, mailed_png = local(cert["pdfUrl"]), local(cert["previewUrl"])
    assert "revoked" not in pdf_text(client.get(mailed_pdf).body).lower()
    revoke(signed_in, cert)
    assert "This certificate was revoked" in pdf_text(client.get(mailed_pdf).body)
    assert client.get(mailed_png).body == client.get(local(cert["revokedPreviewUrl"])).body
    assert "revoked" not in pdf_text(stored_pdf(settings, cert)).lower()  # the original is kept, not served


def test_the_page_of_a_revoked_certificate_shows_its_preview_under_a_revoked_overlay(signed_in, db, settings, client):
    cert = issued_certificate(db, settings)
    revoke(signed_in, cert)
    page = client.get(f"/verify/{cert['certId']}")
    sheet = page.html.find("figure", class_="sheet")
    assert sheet["class"] == ["sheet", "revoked"]
    assert sheet.find("img")["src"] == cert["revokedPreviewUrl"]
    assert sheet.find("figcaption", class_="overlay").text == "Revoked"
    assert page.html.find("a", class_="button").text == "Download the PDF (stamped REVOKED)"
    meta = {tag.get("property"): tag["content"] for tag in page.html.find_all("meta", property=True)}
    assert meta["og:image"] == cert["revokedPreviewUrl"]


# --- the REVOKED copy, made after the activation ---------------------------------------------

def test_a_certificate_is_active_before_its_picture_and_revoked_copy_which_follow_at_low_priority(
        db, settings, client):
    cert = pending_certificate(db, settings)
    assert drain(db, settings, copies=False) == ["active"]
    active = db.certificates.find_one({"_id": cert["_id"]})
    assert active["revokedCopyDue"] is True and active["revokedPdfUrl"] is None and active["revokedHash"] is None
    public = client.get(f"/api/certificates/{cert['certId']}").json
    assert (public["status"], public["previewUrl"]) == ("active", None) and public["pdfUrl"] == active["pdfUrl"]
    assert client.get(f"/verify/{cert['certId']}").html.find("figure", class_="sheet") is None
    later = pending_certificate(db, settings)
    assert stamping.claim(db, WORKER, urgent=True) is None  # nobody needs it yet: renders go first

    assert drain(db, settings) == ["active"] and db.certificateStamps.count_documents({}) == 0
    done = db.certificates.find_one({"_id": cert["_id"]})
    assert "revokedCopyDue" not in done and done["hash"] == active["hash"]
    picture = client.get(local(done["previewUrl"])).body
    assert baking.png_size(picture) == (1200, 848)
    assert baking.png_credential(picture) == baking.pdf_credential(stored_pdf(settings, done))
    stamped = client.get(local(done["revokedPdfUrl"])).body
    assert hashlib.sha256(stamped).hexdigest() == done["revokedHash"]
    assert "This certificate was revoked" in pdf_text(stamped)
    assert "revokedCopyDue" not in db.certificates.find_one({"_id": later["_id"]})


def test_revoked_before_its_copy_is_made_it_never_serves_the_clean_file_and_the_copy_comes_next(
        signed_in, runtime, db, settings, client):
    cert = pending_certificate(db, settings)
    drain(db, settings, copies=False)
    active = db.certificates.find_one({"_id": cert["_id"]})
    mailed_pdf, mailed_png = local(active["pdfUrl"]), f"/files/certificates/{cert['certId']}.png"
    revoke(signed_in, cert)

    public = client.get(f"/api/certificates/{cert['certId']}").json
    assert public["status"] == "revoked" and (public["pdfUrl"], public["previewUrl"]) == (None, None)
    client.get(mailed_pdf, status=404)
    client.get(mailed_png, status=404)
    assert "Revoked" in client.get(f"/verify/{cert['certId']}").text
    waiting = pending_certificate(db, settings)
    job = stamping.claim(db, WORKER, urgent=True)  # before the render that waits
    assert job["certId"] == cert["certId"]
    # The worker of this process (it shares the cache: the answer changes at once).
    assert stamping.stamp(db, job, WORKER, **certificate_tools(runtime)) == "done"

    done = db.certificates.find_one({"_id": cert["_id"]})
    public = client.get(f"/api/certificates/{cert['certId']}").json
    assert (public["pdfUrl"], public["previewUrl"]) == (done["revokedPdfUrl"], done["revokedPreviewUrl"])
    assert "This certificate was revoked" in pdf_text(client.get(mailed_pdf).body)
    assert client.get(mailed_png).body == client.get(local(done["revokedPreviewUrl"])).body
    png = client.get(local(done["revokedPreviewUrl"])).body
    assert png.startswith(b"\x89PNG") and baking.png_size(png) == (1200, 848)
    assert db.certificates.find_one({"_id": waiting["_id"]})["status"] == "pending"


def test_a_copy_queued_for_an_earlier_render_is_dropped(signed_in, db, settings):
    cert = pending_certificate(db, settings)
    drain(db, settings, copies=False)
    old = stamping.claim(db, WORKER)
    signed_in("admin").post_json(f"/api/admin/certificates/{cert['certId']}/issue", {})
    drain(db, settings, copies=False)  # the new render queues its own copy in place of the old one
    assert stamping.stamp(db, old, WORKER, **tools(settings)) == "dropped"  # of the earlier PDF: not made
    assert stamp_copies(db, settings) == ["done"]
    done = db.certificates.find_one({"_id": cert["_id"]})
    assert done["revokedHash"] and "revokedCopyDue" not in done
