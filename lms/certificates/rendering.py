"""What one render of a certificate makes: the files and the fields the record gets.

One file, made before the certificate becomes ``active``:

    certificates/<certId>.pdf           the certificate: the credential attached, facts in metadata

and three made right after, by a follow-up job of low priority (``stamping``): its picture, and
the copies served once it is revoked:

    certificates/<certId>.png           page one as a PNG (the verify page, Open Graph), baked
    certificates/<certId>-revoked.pdf   the same PDF stamped REVOKED
    certificates/<certId>-revoked.png   its page one

``hash`` is the SHA-256 of the first (the one the holder gets while it is valid) and
``revokedHash`` of the stamped one, so verify-by-PDF recognises either as this certificate.
The design (``designs.resolve``) is the one current at the render; the record keeps which.
"""
import hashlib
import logging
import re
from datetime import timedelta

from ..db import now
from . import baking, badges, designs, pdf
from .shapes import verify_url

log = logging.getLogger("lms.rendering")

def page(db, cert, *, urls, org_name, issued_at=None, design=None):
    """``(html, design)``: the page of ``cert`` that the renderer gets (``issued_at``: the date
    printed on it, the record's by default; ``design``: its course's, resolved already)."""
    design = design or designs.resolve(db, cert["courseId"])
    grade = _grade(db, cert) if design["showGrade"] else None
    html = pdf.render_html(student_name=cert["studentName"], course_title=cert["courseTitle"],
                           issued_at=issued_at or cert["issuedAt"], cert_id=cert["certId"], organisation=org_name,
                           verify_url=verify_url(urls, cert["certId"]), design=design, grade=grade)
    return html, design


def render_together(db, certs, *, renderer, urls, org_name):
    """``{certificate _id: its page rendered}`` for ``render``, the pages of ``certs`` made by one
    renderer run (``pdf.combine``). Empty when they cannot share a run (their designs differ) or
    the run fails or its pages do not match: then each is rendered alone, so a certificate whose
    page breaks the renderer fails by itself."""
    if len(certs) < 2:
        return {}
    made, courses = {}, {}
    for cert in certs:
        issued_at = cert.get("issuedAt") or now()  # a re-issue keeps the date printed on it
        if cert["courseId"] not in courses:  # what every certificate of the course shares
            courses[cert["courseId"]] = (designs.resolve(db, cert["courseId"]), _validity_days(db, cert["courseId"]))
        design, days = courses[cert["courseId"]]
        html, design = page(db, cert, urls=urls, org_name=org_name, issued_at=issued_at, design=design)
        made[cert["_id"]] = {"html": html, "design": design, "issuedAt": issued_at, "validityDays": days}
    combined = pdf.combine([one["html"] for one in made.values()])
    if combined is None:
        return {}
    try:
        pages = baking.pages(renderer.render(combined))
    except Exception as exc:  # noqa: BLE001 - each is then rendered (and fails or not) alone
        log.warning("%s certificates rendered together failed (%s: %s); rendering each alone", len(certs),
                    type(exc).__name__, exc)
        return {}
    if len(pages) != len(made):
        log.warning("%s certificates rendered together made %s pages; rendering each alone", len(made), len(pages))
        return {}
    return {_id: {**one, "pdf": data} for (_id, one), data in zip(made.items(), pages)}


def render(db, cert, *, renderer, urls, org_name, keyring, rendered=None):
    """``(files, fields)``: ``files`` is ``[(record field, storage key, bytes, content type)]``.
    ``rendered``: its page, rendered already by ``render_together``."""
    if rendered is None:
        issued_at = cert.get("issuedAt") or now()  # a re-issue keeps the date printed on it
        page_html, design = page(db, cert, urls=urls, org_name=org_name, issued_at=issued_at)
        rendered = {"pdf": renderer.render(page_html), "design": design, "issuedAt": issued_at,
                    "validityDays": None if cert.get("issuedAt") else _validity_days(db, cert["courseId"])}
    issued_at, design = rendered["issuedAt"], rendered["design"]
    expires_at = _expiry(cert, issued_at, rendered["validityDays"])
    _, token = badges.signed(db, keyring, urls, org_name,
                             {**cert, "issuedAt": issued_at, "expiresAt": expires_at, "hash": None})
    document = baking.finish_pdf(rendered["pdf"], token=token, student_name=cert["studentName"],
                                 course_title=cert["courseTitle"], cert_id=cert["certId"],
                                 organisation=design.get("organisationName") or org_name)
    files = [("pdfUrl", f"certificates/{cert['certId']}.pdf", document, "application/pdf")]
    # The pictures and the REVOKED copy of an earlier render are of another PDF: ``stamping``
    # makes this one's.
    fields = {"storageKey": files[0][1], "hash": hashlib.sha256(document).hexdigest(), "previewUrl": None,
              "revokedHash": None, "revokedPdfUrl": None, "revokedPreviewUrl": None, "revokedCopyDue": True,
              "issuedAt": issued_at,
              "expiresAt": expires_at, "renderedAt": now(), "lastError": None,
              "design": {"source": design["source"], "version": design["version"], "layout": design["layout"]}}
    return files, fields


CLEAN_FILE = re.compile(r"certificates/(?P<cert_id>[^/]+?)(?P<suffix>\.pdf|\.png)")


def file_to_serve(db, key):
    """The stored file a request for ``key`` gets. Once a certificate is revoked, the links to its
    clean PDF and picture that went out while it was valid (the student's mail, shared posts) lead
    to the copies stamped REVOKED, as its verification page does. (Files on Cloudinary are served
    by Cloudinary at their own URLs: there the record's links change, the old URLs do not.)"""
    match = CLEAN_FILE.fullmatch(key)
    # Records issued before there were copies have neither field and keep serving their original;
    # one whose copy is still being made (``revokedCopyDue``) gets the copy's key, a 404 until
    # it is stored: never the clean file.
    if match and db.certificates.count_documents(
            {"certId": match["cert_id"], "status": "revoked",
             "$or": [{"revokedHash": {"$ne": None}}, {"revokedCopyDue": True}]}, limit=1):
        return f"certificates/{match['cert_id']}-revoked{match['suffix']}"
    return key


def sample(db, course, *, renderer, urls, org_name, student_name, design=None, format="pdf"):
    """A certificate of ``course`` for ``student_name`` with its current design (or ``design``,
    unsaved), as PDF or PNG bytes; nothing is stored. The id is a sample's, so its QR code and
    link lead to a "no such certificate" page."""
    resolved = designs.resolve(db, course["_id"], design)
    page = pdf.render_html(student_name=student_name, course_title=course["title"], issued_at=now(),
                           cert_id="SAMPLE-0000000000", organisation=org_name,
                           verify_url=verify_url(urls, "SAMPLE-0000000000"), design=resolved, grade="A")
    document = renderer.render(page)
    return renderer.preview(document) if format == "png" else document


def _grade(db, cert):
    approved = db.submissions.find_one({"userId": cert["userId"], "courseId": cert["courseId"], "status": "approved"},
                                       {"grade": 1}, sort=[("reviewedAt", -1)])
    return (approved or {}).get("grade") or None


def _expiry(cert, issued_at, days):
    """When the certificate stops being valid, or None. Taken from the course (its validity,
    ``days``) at the first issue, a snapshot like the names (a later change of the course's
    validity changes no certificate already issued); a re-issue keeps the one it had."""
    if cert.get("issuedAt"):
        return cert.get("expiresAt")
    return issued_at + timedelta(days=days) if days else None


def _validity_days(db, course_id):
    course = db.courses.find_one({"_id": course_id}, {"certificateValidityDays": 1}) or {}
    return course.get("certificateValidityDays")
