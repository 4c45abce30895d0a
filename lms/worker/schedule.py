"""Every periodic task the worker runs, in one list.

``schedule(worker, runtime)`` registers them on a ``runner.Worker``; ``lms.py`` calls it for the
in-process worker and for ``python lms.py worker`` alike. Tasks marked ``on_wake`` also run at
once when the worker is woken (a job was enqueued in this process, a render finished), which is
what makes a new certificate active, or a course's progress recounted after an edit, within
about a second instead of at the next tick.
"""
from ..accounts import emails
from ..adapters.mail import queue as mail
from ..certificates import bulk, issuing
from ..db import now
from ..learning import progress
from ..payments import Terms, capture, reconcile

CLEAN_UP_SECONDS = 600


def schedule(worker, runtime):
    db = runtime.db
    tools = certificate_tools(runtime)

    def issue_certificates():
        issuing.start_due(db, worker, **tools)

    def reissue_batches():  # a course's certificates queued again with its current design
        bulk.run_due(db, worker.id, on_change=tools["on_change"])

    def deliver_mail():
        mail.deliver_due(db, runtime.mailer, worker.id)

    def recount_progress():  # a course's lessons changed: every enrollment's numbers
        progress.recount_due(db, worker.id, cert_prefix=runtime.settings.cert_prefix)

    def run_errands():  # account mail that depends on whether an account exists
        emails.run_errands(db, runtime.urls, worker.id)

    terms = Terms.of(runtime.settings)

    def capture_payments():  # authorised payments the webhook queued
        capture.run_due(db, runtime.razorpay, worker.id, terms)

    def reconcile_payments():  # open orders, and refunds of payments captured in the last days
        reconcile.reconcile(db, runtime.razorpay, terms=terms)

    def reconcile_disputes():
        reconcile.disputes(db, runtime.razorpay, terms)

    def clean_up():
        remove_expired(db)

    worker.every(1, issue_certificates, on_wake=True)
    worker.every(1, deliver_mail, on_wake=True)  # a new certificate queues its mail: send it now
    worker.every(1, recount_progress, on_wake=True)
    worker.every(1, run_errands, on_wake=True)
    worker.every(1, capture_payments, on_wake=True)
    worker.every(1, reissue_batches, on_wake=True)
    worker.every(60, reconcile_payments)
    worker.every(3600, reconcile_disputes)
    worker.every(CLEAN_UP_SECONDS, clean_up)
    return worker


def certificate_tools(runtime):
    """What the certificate job takes (``issuing.issue``), from what this process opened. A change
    clears this process's cached certificate answers (the worker shares the web's cache when it
    runs in-process; a worker process alone has nobody to tell, and other replicas' answers age
    out within ``lms.web.caching.TTL``)."""
    return dict(storage=runtime.storage, renderer=runtime.renderer, urls=runtime.urls,
                org_name=runtime.settings.org_name, keyring=runtime.keyring,
                storage_retry_hours=runtime.settings.storage_retry_hours,
                on_change=lambda: runtime.cache.clear(("certificates",)))


def remove_expired(db):
    """Delete expired sessions, mailed links and rate-limit windows. TTL indexes do
    this too; this is for servers whose TTL monitor is slow or absent, and nothing relies on
    it (the code checks ``expiresAt`` itself). Returns how many were deleted, by collection."""
    stamp = now()
    return {name: db[name].delete_many({"expiresAt": {"$lt": stamp}}).deleted_count
            for name in ("sessions", "emailTokens", "rateLimits")}
