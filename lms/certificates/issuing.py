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

The job makes the clean PDF (``rendering``); its picture, the REVOKED copy and that copy's
picture follow in a job of their own (``stamping``), queued right before the activation and
claimed by ``start_due`` when no render waits (at once, before any render, once the certificate
is revoked).

Certificates of one course waiting together are claimed together (up to ``BATCH``, shared among
the free slots) and their pages rendered by one wkhtmltopdf run (``rendering.render_together``):
its start-up is most of a render's cost, so ten certificates rendered at once take little more
than one. What follows a shared render (finishing each PDF, the upload, the
activation, the mail) runs for those certificates at once; a shared run that fails falls back to
rendering each alone, one at a time.

After the certificate is active the student gets a mail (through the mail queue, with its own
retries, which set ``emailStatus``) and an in-app notification. Both come after the write that
made it active (for certificates issued together, once all of them are active), so a mail
problem can never undo an issued certificate; the price is that a worker dying in the few
milliseconds between the two leaves an active certificate whose
``emailStatus`` stays ``queued`` without a mail (the student still sees it in the app).
"""
import contextlib
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
BATCH = 10  # certificates of one course claimed together by a free worker slot (``claim_together``)
EXPECTED = (RenderError, StorageError)  # outages, not bugs: no traceback in the log
STORAGE_BACKOFF_BASE, STORAGE_BACKOFF_MAX = 10, 900


def claim(db, worker_id):
    """Take one due certificate (or one whose worker died) for ``worker_id``; None if none."""
    return JOBS.claim(db, worker_id)


def claim_together(db, worker_id, most=BATCH):
    """Claim a due certificate and up to ``most`` - 1 more of its course, to be rendered together
    (``issue_together``); [] if none is due."""
    first = claim(db, worker_id)
    return [first, *JOBS.claim_like(db, first, "courseId", worker_id, most - 1)] if first else []


def start_due(db, worker, **tools):
    """Fill the worker's free slots: first the REVOKED copies of revoked certificates, then due
    certificates (of one course together, the due ones shared among the free slots), then, once
    this worker renders nothing, the pictures and REVOKED copies of the others (``stamping``, low
    priority); ``tools`` as for ``issue``."""
    while worker.free_slots():
        job = stamping.claim(db, worker.id, urgent=True)
        if job is not None:
            worker.spawn(stamping.stamp, db, job, worker.id, **tools)
            continue
        certs = claim_together(db, worker.id, BATCH // worker.free_slots())
        if certs:
            worker.spawn(issue_together, db, certs, worker.id, **tools)
            continue
        # Low priority: not beside a render of this worker's, whose CPU the certificates waiting
        # to become active need more.
        if db.certificates.count_documents({"status": JOBS.running, "claimedBy": worker.id}, limit=1):
            return
        job = stamping.claim(db, worker.id)
        if job is None:
            return
        worker.spawn(stamping.stamp, db, job, worker.id, **tools)


def issue_together(db, certs, worker_id, **tools):
    """Issue claimed certificates (``issue``), their pages rendered by one renderer run where
    they can share it (``rendering.render_together``), every lease kept meanwhile; returns the
    status each ended in."""
    keepers, ready = [gevent.spawn(_keep_lease, db, cert, worker_id) for cert in certs], {}
    try:
        spooled = {doc["_id"]: doc for doc in db.certificateSpool.find({"_id": {"$in": [c["_id"] for c in certs]}})}
        emails = {u["_id"]: u.get("email") for u in db.users.find({"_id": {"$in": [c["userId"] for c in certs]}},
                                                                   {"email": 1})}  # none: the account is gone
        fresh = [c for c in certs if c["_id"] not in spooled and c["attempts"] <= JOBS.max_attempts]
        try:
            rendered = rendering.render_together(db, fresh, renderer=tools["renderer"], urls=tools["urls"],
                                                 org_name=tools["org_name"])
        except Exception:  # noqa: BLE001 - a bug here costs the shared run, not the certificates
            log.exception("rendering %s certificates together failed", len(fresh))
            rendered = {}
        # What follows a shared render (uploads, mostly waiting on the storage) runs for all of
        # them at once; a certificate rendered alone takes its turn, one wkhtmltopdf at a time.
        # The audit entries, mails and notifications come once all of them are active (``news``).
        news = []
        # Ownership, checked before the uploads (see ``_issue``), in one write for all of them.
        renewed = False
        with contextlib.suppress(PyMongoError):  # then each renews its own
            renewed = len(rendered) > 1 and JOBS.renew_all(db, [c for c in certs if c["_id"] in rendered], worker_id)
        ready.update({c["_id"]: gevent.spawn(_issue, db, c, worker_id, news, email=emails.get(c["userId"]),
                                             rendered=rendered[c["_id"]], renewed=renewed, **tools)
                      for c in certs if c["_id"] in rendered})
        alone = {c["_id"]: _issue(db, c, worker_id, news, email=emails.get(c["userId"]), spooled=spooled.get(c["_id"]),
                                  **tools) for c in certs if c["_id"] not in rendered}
        statuses = [ready[c["_id"]].get() if c["_id"] in ready else alone[c["_id"]] for c in certs]
        for cert, email, reissue in news:
            _tell(db, cert, worker_id, email, reissue, tools["urls"])
        return statuses
    finally:
        gevent.killall(keepers + list(ready.values()))  # when this job is killed, its parts stop with it


def issue(db, cert, worker_id, **tools):
    """Render, store and activate one claimed certificate; a failure schedules the next attempt
    (or marks it ``failed``). Returns the new status, or None when the job was no longer ours.
    ``tools``: ``storage``, ``renderer``, ``urls``, ``org_name``, ``keyring``,
    ``storage_retry_hours`` and ``on_change``."""
    return issue_together(db, [cert], worker_id, **tools)[0]


def _issue(db, cert, worker_id, news, *, email, storage, renderer, urls, org_name, keyring, storage_retry_hours=24,
           on_change=None, spooled=None, rendered=None, renewed=False):
    """``issue`` of ``cert`` for the student at ``email`` (None: the account is gone), whose files
    wait in the spool (``spooled``) or whose page is ``rendered`` already
    (``rendering.render_together``), its lease ``renewed`` with the others'; once it is active,
    what is to be told of it goes on ``news``: ``(the certificate as stored, email, whether it
    was a re-issue)``."""
    if cert["attempts"] > JOBS.max_attempts and not spooled:
        # Claimed again after its worker died mid-render more often than it may be tried:
        # a certificate that kills its renderer must not do so for ever.
        return _retry(db, cert, worker_id, "the worker stopped during the last attempts")
    reissue = cert.get("issuedAt") is not None
    try:
        if spooled:
            files = [(f["field"], f["key"], bytes(f["data"]), f["contentType"]) for f in spooled["files"]]
            fields = spooled["fields"]
        else:
            files, fields = rendering.render(db, cert, renderer=renderer, urls=urls, org_name=org_name,
                                             keyring=keyring, rendered=rendered)
        # Ownership is checked (by renewing the lease) right before the upload: a worker that lost
        # its job while rendering must not overwrite the files of the worker that took it over.
        if not (renewed or JOBS.renew(db, cert, worker_id)):
            return None
        try:
            fields = {**fields, **{field: storage.put(key, data, kind) for field, key, data, kind in files}}
        except StorageError as exc:
            return _wait_for_storage(db, cert, worker_id, files, fields, exc, storage_retry_hours, spooled)
    except Exception as exc:  # every failure of an attempt is a retry, never a lost certificate
        if not isinstance(exc, EXPECTED):
            log.exception("certificate %s: unexpected failure", cert["certId"])
        return _retry(db, cert, worker_id, f"{type(exc).__name__}: {exc}")
    fields.update(emailStatus="queued" if email else None, storageAttempts=0, storageFailingSince=None)
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
    news.append(({**cert, **fields}, email, reissue))
    return JOBS.done


def _tell(db, cert, worker_id, email, reissue, urls):
    """The audit entry, the log line, the mail and the notification of an issued certificate."""
    log.info("certificate %s issued (attempt %s)", cert["certId"], cert["attempts"])
    audit.record(db, audit.SYSTEM, "certificate.issue", "certificate", cert["certId"], hash=cert["hash"],
                 attempt=cert["attempts"], worker=worker_id, reissue=reissue, design=cert["design"])
    if email:
        _announce(db, urls, cert, email, reissue)


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
