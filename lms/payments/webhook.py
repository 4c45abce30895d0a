"""Razorpay's webhook: signed deliveries of what happened to our orders' payments.

Each delivery is checked against ``X-Razorpay-Signature`` (HMAC-SHA256 of the raw body with the
webhook secret), deduplicated on ``X-Razorpay-Event-Id`` and applied through
``ledger.apply_payment``. Every validly signed delivery gets a 2xx, duplicates and event types
we ignore included, so Razorpay never retries what we already have.
"""
import json
import logging
from datetime import timedelta

from pymongo.errors import DuplicateKeyError

from .. import audit
from ..adapters.razorpay import signature_matches
from ..db import now
from ..errors import BadRequest, ServiceUnavailable
from . import RAZORPAY, ledger

log = logging.getLogger("lms.payments")
STALE_DELIVERY = timedelta(minutes=1)  # a delivery still "processing" after this died midway
HANDLED = ("payment.captured", "order.paid", "payment.failed", "refund.processed", "payment.refunded")


def receive(db, secret, body, signature, event_id, actor):
    """One delivery: ``body`` the raw bytes, ``signature`` X-Razorpay-Signature, ``event_id``
    X-Razorpay-Event-Id. Returns the outcome (``captured``, ``duplicate``, ``ignored``, ...);
    raises 400 for a bad signature, audited without the body."""
    if not secret:
        raise ServiceUnavailable("Razorpay payments are not configured on this server",
                                 code="razorpay_not_configured")
    event_id = event_id if event_id and len(event_id) <= 100 else None  # Razorpay's are ~20 characters
    if not signature_matches(secret, body, signature):
        audit.record(db, actor, "payment.webhook_rejected", "webhook", event_id,
                     reason="bad signature" if signature else "no signature", bytes=len(body))
        raise BadRequest("The webhook signature does not match", code="invalid_signature")
    try:
        event = json.loads(body)
    except ValueError:
        event = None
    if not isinstance(event, dict):
        raise BadRequest("The webhook body is not a JSON object", code="invalid_json")
    name = event.get("event") if isinstance(event.get("event"), str) else None
    if event_id and not _first_delivery(db, event_id, name):
        return "duplicate"
    try:
        outcome = _apply(db, event, name, audit.Actor(RAZORPAY, RAZORPAY, actor.ip, actor.request_id))
    except Exception:
        if event_id:  # let Razorpay's retry of this delivery do it again
            db.webhookEvents.delete_one({"_id": event_id, "outcome": "processing"})
        raise
    if event_id:
        db.webhookEvents.update_one({"_id": event_id}, {"$set": {"outcome": outcome}})
    return outcome


def _first_delivery(db, event_id, name):
    """Record the event id; False when it was seen before. A delivery that is still
    ``processing`` long after it arrived died midway and is taken over (applying is idempotent)."""
    stamp = now()
    try:
        db.webhookEvents.insert_one({"_id": event_id, "event": name, "receivedAt": stamp,
                                     "outcome": "processing"})
        return True
    except DuplicateKeyError:
        return db.webhookEvents.update_one(
            {"_id": event_id, "outcome": "processing", "receivedAt": {"$lt": stamp - STALE_DELIVERY}},
            {"$set": {"receivedAt": stamp}}).modified_count == 1


def _apply(db, event, name, actor):
    if name not in HANDLED:
        return "ignored"
    payload = event.get("payload")
    payment = payload.get("payment") if isinstance(payload, dict) else None
    entity = payment.get("entity") if isinstance(payment, dict) else None
    if not isinstance(entity, dict):
        log.warning("razorpay webhook %s without a payment entity", name)
        return "malformed"
    return ledger.apply_payment(db, entity, actor, f"webhook:{name}")
