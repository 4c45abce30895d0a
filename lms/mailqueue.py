"""Mail waiting to be sent: queued in MongoDB, delivered by the worker with retries.

Handlers never talk to SMTP: a slow or broken mail server must not slow a request, reveal
anything by its timing, or lose a message. A delivery failure is retried with backoff and, after
``jobs.MAX_ATTEMPTS``, left ``failed`` for an operator to see.
"""
import logging

from . import jobs
from .db import new_id, now

log = logging.getLogger("lms.mail")
STATES = dict(waiting="queued", running="sending", done="sent", failed="failed")


def enqueue(db, to, subject, text, html=None, *, kind="mail", ref=None):
    message = {"_id": new_id(), "to": to, "subject": subject, "text": text, "html": html,
               "kind": kind, "ref": ref, "status": "queued", "attempts": 0,
               "nextAttemptAt": now(), "createdAt": now()}
    db.mails.insert_one(message)
    return message["_id"]


def deliver_due(db, transport, worker_id, limit=20):
    """Send queued mail until none is due (or ``limit`` were tried); returns how many were sent."""
    sent = 0
    for _ in range(limit):
        message = jobs.claim(db.mails, worker_id, **STATES)
        if not message:
            break
        try:
            transport.send(message["to"], message["subject"], message["text"], message.get("html"))
        except Exception as exc:  # any transport failure is a retry, never a lost message
            log.warning("mail %s to %s failed (attempt %s): %s", message["_id"], message["to"],
                        message["attempts"], exc)
            if jobs.retry_or_fail(db.mails, message, worker_id, str(exc), **STATES) == "failed":
                _mark_reference(db, message, "failed")
            continue
        jobs.finish(db.mails, message, worker_id, {"sentAt": now()}, **STATES)
        sent += 1
        _mark_reference(db, message, "sent")
    return sent


def _mark_reference(db, message, status):
    """Tell the object the mail was about (a certificate's ``emailStatus``) how it went."""
    ref = message.get("ref")
    if ref:
        db[ref["collection"]].update_one({"_id": ref["id"]}, {"$set": {"emailStatus": status}})
