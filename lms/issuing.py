"""The certificate job: claim a pending certificate, render it, store it, make it active.

The queue is the ``certificates`` collection itself: ``pending`` → ``rendering`` (claimed with
a lease by ``jobs.claim``) → ``active``, or back to ``pending`` with a backoff after a failure,
and ``failed`` after ``jobs.MAX_ATTEMPTS``. While a render runs its lease is renewed, so only a
worker that died loses its job, and another worker claims it once the lease runs out. Every
write after the claim is guarded by ``jobs`` (status ``rendering`` and our worker id), so a
late worker, a revocation or a re-issue in the meantime is never overwritten, and a finished
job is never done again.

After the certificate is active the student gets a mail (through ``mailqueue``, with its own
retries, which set ``emailStatus``) and an in-app notification. Both come after the write that
made it active, so a mail problem can never undo an issued certificate; the price is that a
worker dying in the few milliseconds between the two leaves an active certificate whose
``emailStatus`` stays ``queued`` without a mail (the student still sees it in the app).
"""
import hashlib
import html
import logging
from datetime import timedelta

import gevent
from pymongo.errors import PyMongoError

from . import audit, certificates, jobs, mailqueue, notifications, render, storage
from .db import now

log = logging.getLogger("lms.issuing")
STATES = dict(waiting="pending", running="rendering", done="active", failed="failed")
RENDER_TIMEOUT = 60  # seconds; a stuck wkhtmltopdf is killed and the attempt retried
RENEW_EVERY = jobs.LEASE.total_seconds() / 3
EXPECTED = (render.RenderError, storage.StorageError)  # outages, not bugs: no traceback in the log


def claim(db, worker_id):
    """Take one due certificate (or one whose worker died) for ``worker_id``; None if none."""
    return jobs.claim(db.certificates, worker_id, **STATES)


def start_due(db, settings, worker):
    """Fill the worker's free render slots with due certificates."""
    while worker.free_slots():
        cert = claim(db, worker.id)
        if cert is None:
            return
        worker.spawn(issue, db, settings, cert, worker.id)


def issue(db, settings, cert, worker_id):
    """Render, store and activate one claimed certificate; a failure schedules the next attempt
    (or marks it ``failed``). Returns the new status, or None when the job was no longer ours."""
    if cert["attempts"] > jobs.MAX_ATTEMPTS:
        # Claimed again after its worker died mid-render more often than it may be tried:
        # a certificate that kills its renderer must not do so for ever.
        return _retry(db, cert, worker_id, "the worker stopped during the last attempts")
    reissue = cert.get("issuedAt") is not None
    user = db.users.find_one({"_id": cert["userId"]}, {"email": 1})
    keeper = gevent.spawn(_keep_lease, db, cert, worker_id)
    try:
        fields = _render_and_store(db, settings, cert, worker_id)
    except Exception as exc:  # every failure of an attempt is a retry, never a lost certificate
        if not isinstance(exc, EXPECTED):
            log.exception("certificate %s: unexpected failure", cert["certId"])
        return _retry(db, cert, worker_id, f"{type(exc).__name__}: {exc}")
    finally:
        keeper.kill()
    if fields is not None:
        fields["emailStatus"] = "queued" if user else None  # the mail is queued right after
    if fields is None or not jobs.finish(db.certificates, cert, worker_id, fields, **STATES):
        log.warning("certificate %s: no longer ours (revoked or taken over); result dropped", cert["certId"])
        return None
    log.info("certificate %s issued (attempt %s)", cert["certId"], cert["attempts"])
    audit.record(db, audit.SYSTEM, "certificate.issue", "certificate", cert["certId"], hash=fields["hash"],
                 attempt=cert["attempts"], worker=worker_id, reissue=reissue)
    if user:
        _announce(db, settings, {**cert, **fields}, user["email"], reissue)
    return STATES["done"]


def _render_and_store(db, settings, cert, worker_id):
    """The finished job's fields, or None when the job stopped being ours during the render.

    Ownership is checked (by renewing the lease) right before the upload: a worker that lost
    its job while rendering must not overwrite the PDF of the worker that took it over, whose
    hash is the one recorded. After the check the lease has ``jobs.LEASE`` (30 s) left, what a
    storage call may take before its timeout, so another worker could claim the job meanwhile
    only if the upload hung for that long.
    """
    issued_at = cert.get("issuedAt") or now()  # a re-issue keeps the date printed on it
    expires_at = _expiry(db, cert, issued_at)
    page = render.render_html(student_name=cert["studentName"], course_title=cert["courseTitle"],
                              issued_at=issued_at, cert_id=cert["certId"], organisation=settings.org_name,
                              verify_url=certificates.verify_url(settings.public_url, cert["certId"]))
    pdf = render.render_pdf(page, timeout=RENDER_TIMEOUT)
    if not jobs.renew(db.certificates, cert, worker_id, **STATES):
        return None
    key = f"certificates/{cert['certId']}.pdf"
    url = storage.storage(settings).put(key, pdf, "application/pdf")
    return {"pdfUrl": url, "storageKey": key, "hash": hashlib.sha256(pdf).hexdigest(),
            "issuedAt": issued_at, "expiresAt": expires_at, "renderedAt": now(), "lastError": None}


def _expiry(db, cert, issued_at):
    """When the certificate stops being valid, or None. Taken from the course at the first
    issue, a snapshot like the names (a later change of the course's validity changes no
    certificate already issued); a re-issue keeps the one it had."""
    if cert.get("issuedAt"):
        return cert.get("expiresAt")
    course = db.courses.find_one({"_id": cert["courseId"]}, {"certificateValidityDays": 1}) or {}
    days = course.get("certificateValidityDays")
    return issued_at + timedelta(days=days) if days else None


def _keep_lease(db, cert, worker_id):
    while True:
        gevent.sleep(RENEW_EVERY)
        try:
            if not jobs.renew(db.certificates, cert, worker_id, **STATES):
                return  # taken over or revoked: the final write will be refused anyway
        except PyMongoError as exc:
            log.warning("certificate %s: lease not renewed (%s)", cert["certId"], exc)


def _retry(db, cert, worker_id, error):
    status = jobs.retry_or_fail(db.certificates, cert, worker_id, error, **STATES)
    if status == STATES["failed"]:
        log.error("certificate %s failed after %s attempts: %s", cert["certId"], cert["attempts"], error)
        audit.record(db, audit.SYSTEM, "certificate.fail", "certificate", cert["certId"],
                     error=error[:500], attempts=cert["attempts"], worker=worker_id)
    elif status:
        log.warning("certificate %s: attempt %s failed, will retry: %s", cert["certId"], cert["attempts"], error)
    return status


def _announce(db, settings, cert, email, reissue):
    link = certificates.verify_url(settings.public_url, cert["certId"])
    course = " ".join(cert["courseTitle"].split())  # one line: it goes into a mail header
    what = "was re-issued" if reissue else "is ready"
    text = (f"Hello {cert['studentName']},\n\n"
            f"Your certificate for {course} {what}.\n\n"
            f"Certificate ID: {cert['certId']}\n"
            f"Verify and share it: {link}\n"
            f"Download the PDF: {cert['pdfUrl']}\n\n"
            "Anyone you share the link with can check on that page that the certificate is genuine.\n"
            f"The PDF's SHA-256 fingerprint is {cert['hash']}.\n")
    e = html.escape
    page = (f"<p>Hello {e(cert['studentName'])},</p>"
            f"<p>Your certificate for <strong>{e(course)}</strong> {what}.</p>"
            f"<p>Certificate ID: <code>{e(cert['certId'])}</code></p>"
            f'<p><a href="{e(link)}">Verify and share it</a> · <a href="{e(cert["pdfUrl"])}">Download the PDF</a></p>'
            "<p>Anyone you share the link with can check on that page that the certificate is genuine.</p>")
    mailqueue.enqueue(db, email, f"Your certificate for {course} {what}", text, page,
                      kind="certificate", ref={"collection": "certificates", "id": cert["_id"]})
    notifications.add(db, cert["userId"], "certificate.issued", f"Your certificate {what}",
                      f"{course} · {cert['certId']}", link)
