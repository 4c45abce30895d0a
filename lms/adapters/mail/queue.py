"""Mail waiting to be sent: queued in MongoDB, delivered by the worker with retries.

Handlers never talk to SMTP: a slow or broken mail server must not slow a request, reveal
anything by its timing, or lose a message. A delivery failure is retried with backoff and, after
``MAIL.max_attempts``, left ``failed`` for an operator to see.
"""
import logging

from ...db import new_id, now
from ...worker.queue import LeasedQueue

log = logging.getLogger("lms.mail")
MAIL = LeasedQueue("mails", waiting="queued", running="sending", done="sent")


def enqueue(db, to, message, *, kind="mail", ref=None):
    """Queue ``message`` (``messages.Message``) for ``to``; ``ref`` names the document it is
    about (``{"collection", "id"}``), whose ``emailStatus`` follows the delivery."""
    job = MAIL.enqueue(db, {"_id": new_id(), "to": to, "subject": message.subject, "text": message.text,
                            "html": message.html, "kind": kind, "ref": ref, "createdAt": now()})
    return job["_id"]


def deliver_due(db, transport, worker_id, limit=20):
    """Send queued mail until none is due (or ``limit`` were tried); returns how many were sent."""
    sent = 0
    for _ in range(limit):
        message = MAIL.claim(db, worker_id)
        if not message:
            break
        try:
            transport.send(message["to"], message["subject"], message["text"], message.get("html"))
        except Exception as exc:  # any transport failure is a retry, never a lost message
            log.warning("mail %s to %s failed (attempt %s): %s", message["_id"], message["to"],
                        message["attempts"], exc)
            if MAIL.retry_or_fail(db, message, worker_id, str(exc)) == MAIL.failed:
                _mark_reference(db, message, "failed")
            continue
        MAIL.finish(db, message, worker_id, {"sentAt": now()})
        sent += 1
        _mark_reference(db, message, "sent")
    return sent


def _mark_reference(db, message, status):
    """Tell the object the mail was about (a certificate's ``emailStatus``) how it went."""
    ref = message.get("ref")
    if ref:
        db[ref["collection"]].update_one({"_id": ref["id"]}, {"$set": {"emailStatus": status}})
