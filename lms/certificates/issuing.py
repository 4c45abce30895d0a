"""The certificate job: claim a pending certificate, render it, store it, make it active.

The queue is the ``certificates`` collection itself (``records.JOBS``, a ``LeasedQueue``):
``pending`` → ``rendering`` (claimed with a lease) → ``active``, or back to ``pending`` with a
backoff after a failure, and ``failed`` after ``JOBS.max_attempts``. While a render runs its
lease is renewed, so only a worker that died loses its job, and another worker claims it once
the lease runs out. Every write after the claim is guarded (status ``rendering`` and our worker
id), so a late worker, a revocation or a re-issue in the meantime is never overwritten, and a
finished job is never done again.

The job takes the adapters it uses: ``storage`` (where the PDF goes), ``renderer`` (HTML to
PDF), ``urls`` (the verify link on the QR code and in the mail) and the organisation's name.

After the certificate is active the student gets a mail (through the mail queue, with its own
retries, which set ``emailStatus``) and an in-app notification. Both come after the write that
made it active, so a mail problem can never undo an issued certificate; the price is that a
worker dying in the few milliseconds between the two leaves an active certificate whose
``emailStatus`` stays ``queued`` without a mail (the student still sees it in the app).
"""
import hashlib
import logging
from datetime import timedelta

import gevent
from pymongo.errors import PyMongoError

from .. import audit
from ..accounts import notifications
from ..adapters.mail import messages, queue as mail
from ..db import now
from ..errors import RenderError, StorageError
from . import pdf
from .records import JOBS
from .shapes import verify_url

log = logging.getLogger("lms.issuing")
RENEW_EVERY = JOBS.lease.total_seconds() / 3
EXPECTED = (RenderError, StorageError)  # outages, not bugs: no traceback in the log


def claim(db, worker_id):
    """Take one due certificate (or one whose worker died) for ``worker_id``; None if none."""
    return JOBS.claim(db, worker_id)


def start_due(db, worker, **tools):
    """Fill the worker's free render slots with due certificates; ``tools`` as for ``issue``."""
    while worker.free_slots():
        cert = claim(db, worker.id)
        if cert is None:
            return
        worker.spawn(issue, db, cert, worker.id, **tools)


def issue(db, cert, worker_id, *, storage, renderer, urls, org_name):
    """Render, store and activate one claimed certificate; a failure schedules the next attempt
    (or marks it ``failed``). Returns the new status, or None when the job was no longer ours."""
    if cert["attempts"] > JOBS.max_attempts:
        # Claimed again after its worker died mid-render more often than it may be tried:
        # a certificate that kills its renderer must not do so for ever.
        return _retry(db, cert, worker_id, "the worker stopped during the last attempts")
    reissue = cert.get("issuedAt") is not None
    user = db.users.find_one({"_id": cert["userId"]}, {"email": 1})
    keeper = gevent.spawn(_keep_lease, db, cert, worker_id)
    try:
        fields = _render_and_store(db, cert, worker_id, storage, renderer, urls, org_name)
    except Exception as exc:  # every failure of an attempt is a retry, never a lost certificate
        if not isinstance(exc, EXPECTED):
            log.exception("certificate %s: unexpected failure", cert["certId"])
        return _retry(db, cert, worker_id, f"{type(exc).__name__}: {exc}")
    finally:
        keeper.kill()
    if fields is not None:
        fields["emailStatus"] = "queued" if user else None  # the mail is queued right after
    if fields is None or not JOBS.finish(db, cert, worker_id, fields):
        log.warning("certificate %s: no longer ours (revoked or taken over); result dropped", cert["certId"])
        return None
    log.info("certificate %s issued (attempt %s)", cert["certId"], cert["attempts"])
    audit.record(db, audit.SYSTEM, "certificate.issue", "certificate", cert["certId"], hash=fields["hash"],
                 attempt=cert["attempts"], worker=worker_id, reissue=reissue)
    if user:
        _announce(db, urls, {**cert, **fields}, user["email"], reissue)
    return JOBS.done


def _render_and_store(db, cert, worker_id, storage, renderer, urls, org_name):
    """The finished job's fields, or None when the job stopped being ours during the render.

    Ownership is checked (by renewing the lease) right before the upload: a worker that lost
    its job while rendering must not overwrite the PDF of the worker that took it over, whose
    hash is the one recorded. After the check the lease has ``JOBS.lease`` (30 s) left, what a
    storage call may take before its timeout, so another worker could claim the job meanwhile
    only if the upload hung for that long.
    """
    issued_at = cert.get("issuedAt") or now()  # a re-issue keeps the date printed on it
    expires_at = _expiry(db, cert, issued_at)
    page = pdf.render_html(student_name=cert["studentName"], course_title=cert["courseTitle"],
                           issued_at=issued_at, cert_id=cert["certId"], organisation=org_name,
                           verify_url=verify_url(urls, cert["certId"]))
    document = renderer.render(page)
    if not JOBS.renew(db, cert, worker_id):
        return None
    key = f"certificates/{cert['certId']}.pdf"
    url = storage.put(key, document, "application/pdf")
    return {"pdfUrl": url, "storageKey": key, "hash": hashlib.sha256(document).hexdigest(),
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
            if not JOBS.renew(db, cert, worker_id):
                return  # taken over or revoked: the final write will be refused anyway
        except PyMongoError as exc:
            log.warning("certificate %s: lease not renewed (%s)", cert["certId"], exc)


def _retry(db, cert, worker_id, error):
    status = JOBS.retry_or_fail(db, cert, worker_id, error)
    if status == JOBS.failed:
        log.error("certificate %s failed after %s attempts: %s", cert["certId"], cert["attempts"], error)
        audit.record(db, audit.SYSTEM, "certificate.fail", "certificate", cert["certId"],
                     error=error[:500], attempts=cert["attempts"], worker=worker_id)
    elif status:
        log.warning("certificate %s: attempt %s failed, will retry: %s", cert["certId"], cert["attempts"], error)
    return status


def _announce(db, urls, cert, email, reissue):
    link = verify_url(urls, cert["certId"])
    what = "was re-issued" if reissue else "is ready"
    course = " ".join(cert["courseTitle"].split())  # one line, like the subject it is part of
    message = messages.render("certificate", name=cert["studentName"], course=course, what=what,
                              cert_id=cert["certId"], link=link, pdf_url=cert["pdfUrl"], hash=cert["hash"])
    mail.enqueue(db, email, message, kind="certificate", ref={"collection": "certificates", "id": cert["_id"]})
    notifications.add(db, cert["userId"], "certificate.issued", f"Your certificate {what}",
                      f"{course} · {cert['certId']}", link)
