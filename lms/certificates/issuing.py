"""The certificate job: claim a pending certificate, render it, store it, make it active.

The queue is the ``certificates`` collection itself (``records.JOBS``, a ``LeasedQueue``):
``pending`` → ``rendering`` (claimed with a lease) → ``active``, or back to ``pending`` with a
backoff after a failure, and ``failed`` after ``JOBS.max_attempts``. While a render runs its
lease is renewed, so only a worker that died loses its job, and another worker claims it once
the lease runs out. Every write after the claim is guarded (status ``rendering`` and our worker
id), so a late worker, a revocation or a re-issue in the meantime is never overwritten, and a
finished job is never done again.

The job takes the adapters it uses: ``storage`` (where the files go), ``renderer`` (HTML to PDF,
PDF to PNG), ``urls`` (the verify link on the QR code and in the mail), the organisation's
name, the ``keyring`` (the credential baked into the files), ``storage_retry_hours`` and
``on_change``, called once a certificate changed (the process's response cache is cleared
with it, so the public answer says ``active`` at once).

Storage failures are not render failures. When an upload fails (an outage, a timeout, a rate
limit), the rendered files go to the spool, ``certificateSpool`` in the database (one document
per certificate, a few hundred KB: any worker of any replica can finish it, and a restart loses
nothing), and the job waits without spending one of its five render attempts: ``storage_backoff``
(10 s doubling to 15 minutes) or as long as the service asked (``Retry-After``, Cloudinary's
``X-FeatureRateLimit-Reset``), whichever is longer, until ``storage_retry_hours`` after the first
failed upload; then it is ``failed``. The next try uploads the spooled files as they are.

The job makes the clean PDF and its preview (``rendering``); the REVOKED copy and its preview
follow in a job of their own (``stamping``), queued right before the activation and claimed by
``start_due`` when no render waits (at once, before any render, once the certificate is revoked).

After the certificate is active the student gets a mail (through the mail queue, with its own
retries, which set ``emailStatus``) and an in-app notification. Both come after the write that
made it active, so a mail problem can never undo an issued certificate; the price is that a
worker dying in the few milliseconds between the two leaves an active certificate whose
``emailStatus`` stays ``queued`` without a mail (the student still sees it in the app).
"""
import logging
from datetime import timedelta

import gevent
from bson import Binary
from pymongo.errors import PyMongoError

from .. import audit
from ..accounts import notifications
from ..adapters.mail import messages, queue as mail
from ..db import now
from ..errors import RenderError, StorageError
from . import rendering, stamping
from .records import JOBS
from .shapes import verify_url

log = logging.getLogger("lms.issuing")
RENEW_EVERY = JOBS.lease.total_seconds() / 3
EXPECTED = (RenderError, StorageError)  # outages, not bugs: no traceback in the log
STORAGE_BACKOFF_BASE, STORAGE_BACKOFF_MAX = 10, 900


def claim(db, worker_id):
    """Take one due certificate (or one whose worker died) for ``worker_id``; None if none."""
    return JOBS.claim(db, worker_id)


def start_due(db, worker, **tools):
    """Fill the worker's free slots: first the REVOKED copies of revoked certificates, then due
    certificates, then the REVOKED copies of the others (``stamping``, low priority); ``tools``
    as for ``issue``."""
    while worker.free_slots():
        job = stamping.claim(db, worker.id, urgent=True)
        if job is not None:
            worker.spawn(stamping.stamp, db, job, worker.id, **tools)
            continue
        cert = claim(db, worker.id)
        if cert is not None:
            worker.spawn(issue, db, cert, worker.id, **tools)
            continue
        job = stamping.claim(db, worker.id)
        if job is None:
            return
        worker.spawn(stamping.stamp, db, job, worker.id, **tools)


def issue(db, cert, worker_id, *, storage, renderer, urls, org_name, keyring, storage_retry_hours=24,
          on_change=None):
    """Render, store and activate one claimed certificate; a failure schedules the next attempt
    (or marks it ``failed``). Returns the new status, or None when the job was no longer ours."""
    spooled = db.certificateSpool.find_one({"_id": cert["_id"]})
    if cert["attempts"] > JOBS.max_attempts and not spooled:
        # Claimed again after its worker died mid-render more often than it may be tried:
        # a certificate that kills its renderer must not do so for ever.
        return _retry(db, cert, worker_id, "the worker stopped during the last attempts")
    reissue = cert.get("issuedAt") is not None
    user = db.users.find_one({"_id": cert["userId"]}, {"email": 1})
    keeper = gevent.spawn(_keep_lease, db, cert, worker_id)
    try:
        if spooled:
            files = [(f["field"], f["key"], bytes(f["data"]), f["contentType"]) for f in spooled["files"]]
            fields = spooled["fields"]
        else:
            files, fields = rendering.render(db, cert, renderer=renderer, urls=urls, org_name=org_name,
                                             keyring=keyring)
        # Ownership is checked (by renewing the lease) right before the upload: a worker that lost
        # its job while rendering must not overwrite the files of the worker that took it over.
        if not JOBS.renew(db, cert, worker_id):
            return None
        try:
            fields = {**fields, **{field: storage.put(key, data, kind) for field, key, data, kind in files}}
        except StorageError as exc:
            return _wait_for_storage(db, cert, worker_id, files, fields, exc, storage_retry_hours, spooled)
    except Exception as exc:  # every failure of an attempt is a retry, never a lost certificate
        if not isinstance(exc, EXPECTED):
            log.exception("certificate %s: unexpected failure", cert["certId"])
        return _retry(db, cert, worker_id, f"{type(exc).__name__}: {exc}")
    finally:
        keeper.kill()
    fields.update(emailStatus="queued" if user else None, storageAttempts=0, storageFailingSince=None)
    if fields.get("revokedCopyDue"):  # queued before the activation: a crash right after loses nothing
        stamping.schedule(db, cert, next(data for field, _, data, _ in files if field == "pdfUrl"),
                          verify_url(urls, cert["certId"]))
    if not JOBS.finish(db, cert, worker_id, fields):
        log.warning("certificate %s: no longer ours (revoked or taken over); result dropped", cert["certId"])
        return None
    if spooled:  # only this job's lease holder spools, and this attempt did not
        db.certificateSpool.delete_one({"_id": cert["_id"]})
    if on_change:
        on_change()
    log.info("certificate %s issued (attempt %s)", cert["certId"], cert["attempts"])
    audit.record(db, audit.SYSTEM, "certificate.issue", "certificate", cert["certId"], hash=fields["hash"],
                 attempt=cert["attempts"], worker=worker_id, reissue=reissue, design=fields["design"])
    if user:
        _announce(db, urls, {**cert, **fields}, user["email"], reissue)
    return JOBS.done


def storage_backoff(attempts):
    """Seconds before the next upload: 10, 20, 40 ... at most 15 minutes."""
    return min(STORAGE_BACKOFF_BASE * 2 ** max(attempts - 1, 0), STORAGE_BACKOFF_MAX)


def _wait_for_storage(db, cert, worker_id, files, fields, exc, retry_hours, spooled):
    """Keep the rendered files and try the upload again later, or give up past the deadline."""
    stamp = now()
    since = cert.get("storageFailingSince") or stamp
    deadline = since + timedelta(hours=retry_hours)
    error = f"{type(exc).__name__}: {exc}"
    if stamp >= deadline:
        if not JOBS.fail(db, cert, worker_id, error):
            return None
        db.certificateSpool.delete_one({"_id": cert["_id"]})
        log.error("certificate %s failed: no upload for %s hours: %s", cert["certId"], retry_hours, error)
        audit.record(db, audit.SYSTEM, "certificate.fail", "certificate", cert["certId"], error=error[:500],
                     attempts=cert["attempts"], worker=worker_id, stage="upload")
        return JOBS.failed
    if not spooled:
        db.certificateSpool.replace_one({"_id": cert["_id"]}, {
            "files": [{"field": f, "key": k, "data": Binary(d), "contentType": t} for f, k, d, t in files],
            "fields": fields, "createdAt": stamp}, upsert=True)
    tries = cert.get("storageAttempts", 0) + 1
    wait = max(storage_backoff(tries), exc.retry_after or 0)
    until = min(stamp + timedelta(seconds=wait), deadline)
    if not JOBS.postpone(db, cert, worker_id, until, {"lastError": error[:500], "storageAttempts": tries,
                                                       "storageFailingSince": since}):
        return None
    log.warning("certificate %s rendered; upload %s failed, next try in %.0fs: %s", cert["certId"], tries,
                (until - stamp).total_seconds(), error)
    return JOBS.waiting


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
