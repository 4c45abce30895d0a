"""What a revoked certificate shows: the verify page's preview under a REVOKED overlay (the PNG
stamped REVOKED), the PDF link serving the copy stamped REVOKED, verify-by-PDF recognising the
original and the stamped copy as this revoked certificate, and the files made at issue."""
from support.certificates import pdf_text, stored_pdf
from support.factories import create_course, issued_certificate


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
