"""Certificates of one course waiting together are claimed together and rendered by one
wkhtmltopdf run (its start-up is most of a render's cost), each still becoming a PDF of its own,
with its own name, credential and hash; a shared run that fails costs nobody an attempt but the
certificate that broke it."""
import base64
import hashlib
import io
import json
import shutil

from pypdf import PdfReader

from lms.certificates import baking, issuing
from support.certificates import WORKER, fake_wkhtmltopdf, pdf_text, stored_pdf, tools
from support.factories import create_course, pending_certificate

REAL_WKHTMLTOPDF = shutil.which("wkhtmltopdf")


def counting_renderer(tmp_path, refuse=None):
    """A wkhtmltopdf on PATH that logs each run it completes to the returned file, and fails
    (exit 3) on any page containing ``refuse``."""
    runs = tmp_path / "runs.log"
    page = tmp_path / "page.html"
    refusal = f"if grep -q '{refuse}' {page}; then echo 'crashed on this page' >&2; exit 3; fi; " if refuse else ""
    path = fake_wkhtmltopdf(tmp_path / "bin", f'cat > {page}; {refusal}echo run >> {runs}; '
                                              f'exec {REAL_WKHTMLTOPDF} "$@" < {page}')
    return path, runs


def credential_claims(pdf):
    payload = baking.pdf_credential(pdf).split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def test_waiting_certificates_of_one_course_share_one_render_and_each_gets_its_own_pdf(
        db, settings, tmp_path, monkeypatch):
    path, runs = counting_renderer(tmp_path)
    monkeypatch.setenv("PATH", path)
    course = create_course(db, price=0, title="Data Engineering")
    names = ["Asha Rao", "Bruno Díaz", "Chen Wei", "Dana Levi"]
    certs = [pending_certificate(db, settings, course=course, name=name) for name in names]
    other = pending_certificate(db, settings, course=create_course(db, price=0), name="Elsewhere Student")

    claimed = issuing.claim_together(db, WORKER)
    assert sorted(c["certId"] for c in claimed) == sorted(c["certId"] for c in certs)
    assert issuing.issue_together(db, claimed, WORKER, **tools(settings)) == ["active"] * 4

    assert runs.read_text().count("run") == 1
    for cert, name in zip(certs, names):
        done = db.certificates.find_one({"_id": cert["_id"]})
        pdf = stored_pdf(settings, done)
        assert len(PdfReader(io.BytesIO(pdf)).pages) == 1
        text = pdf_text(pdf)
        assert name in text and cert["certId"] in text and "Data Engineering" in text
        assert not any(other_name in text for other_name in names if other_name != name)
        assert baking.pdf_facts(pdf)["certId"] == cert["certId"]
        assert cert["certId"] in json.dumps(credential_claims(pdf))
        assert hashlib.sha256(pdf).hexdigest() == done["hash"]
    assert db.certificates.find_one({"_id": other["_id"]})["status"] == "pending"


def test_a_claim_takes_at_most_its_share(db, settings):
    course = create_course(db, price=0)
    for _ in range(5):
        pending_certificate(db, settings, course=course)
    assert len(issuing.claim_together(db, WORKER, most=2)) == 2
    assert len(issuing.claim_together(db, WORKER, most=10)) == 3
    assert issuing.claim_together(db, WORKER) == []


def test_a_shared_run_that_fails_renders_each_alone_and_only_the_page_that_broke_it_waits(
        db, settings, tmp_path, monkeypatch):
    path, runs = counting_renderer(tmp_path, refuse="Poison Pill")
    monkeypatch.setenv("PATH", path)
    course = create_course(db, price=0)
    good = [pending_certificate(db, settings, course=course, name=name) for name in ("Ann Good", "Ben Good")]
    bad = pending_certificate(db, settings, course=course, name="Poison Pill")

    claimed = issuing.claim_together(db, WORKER)
    statuses = dict(zip((c["certId"] for c in claimed), issuing.issue_together(db, claimed, WORKER,
                                                                                 **tools(settings))))
    assert statuses == {good[0]["certId"]: "active", good[1]["certId"]: "active", bad["certId"]: "pending"}
    assert runs.read_text().count("run") == 2  # the two good pages, each alone
    waiting = db.certificates.find_one({"_id": bad["_id"]})
    assert waiting["attempts"] == 1 and "exited with code 3" in waiting["lastError"]
    assert db.certificateStamps.count_documents({"_id": bad["_id"]}) == 0
    for cert in good:
        assert cert["studentName"] in pdf_text(stored_pdf(settings, db.certificates.find_one({"_id": cert["_id"]})))


def test_a_shared_run_that_returns_other_pages_is_dropped_and_each_is_rendered_alone(
        db, settings, tmp_path, monkeypatch):
    runs, page = tmp_path / "runs.log", tmp_path / "page.html"
    # A renderer that makes one blank page of any document of several pages.
    monkeypatch.setenv("PATH", fake_wkhtmltopdf(tmp_path / "bin", (
        f'cat > {page}; echo run >> {runs}; if grep -q "page-break-before" {page}; then '
        f'echo "<html><body>one page</body></html>" > {page}; fi; exec {REAL_WKHTMLTOPDF} "$@" < {page}')))
    course = create_course(db, price=0)
    certs = [pending_certificate(db, settings, course=course, name=name) for name in ("Ivy One", "Jon Two")]

    claimed = issuing.claim_together(db, WORKER)
    assert issuing.issue_together(db, claimed, WORKER, **tools(settings)) == ["active", "active"]
    assert runs.read_text().count("run") == 3  # the shared run, then each alone
    for cert in certs:
        pdf = stored_pdf(settings, db.certificates.find_one({"_id": cert["_id"]}))
        assert cert["studentName"] in pdf_text(pdf) and "one page" not in pdf_text(pdf)


def test_a_certificate_taken_over_during_a_shared_render_is_left_to_its_new_worker(db, settings):
    course = create_course(db, price=0)
    certs = [pending_certificate(db, settings, course=course, name=name) for name in ("Kim One", "Lee Two", "Max Three")]
    claimed = issuing.claim_together(db, WORKER)
    taken = certs[1]["_id"]
    # its lease ran out while the render ran, and another worker claimed it
    db.certificates.update_one({"_id": taken}, {"$set": {"claimedBy": "other-worker"}})

    statuses = dict(zip((c["_id"] for c in claimed), issuing.issue_together(db, claimed, WORKER, **tools(settings))))

    assert statuses == {certs[0]["_id"]: "active", taken: None, certs[2]["_id"]: "active"}
    left = db.certificates.find_one({"_id": taken})
    assert (left["status"], left["claimedBy"], left["pdfUrl"], left["hash"]) == ("rendering", "other-worker", None, None)
    assert db.certificateStamps.count_documents({"_id": taken}) == 0
    assert not db.auditLogs.find_one({"action": "certificate.issue", "targetId": certs[1]["certId"]})
    stored = [path.name for path in tools(settings)["storage"].root.rglob("*") if path.is_file()]
    assert stored and not [name for name in stored if certs[1]["certId"] in name]  # no file of its overwritten
