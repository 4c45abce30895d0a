"""Razorpay's webhook: signed deliveries of what happened to our orders' payments.

Each delivery is checked first against ``X-Razorpay-Signature`` (HMAC-SHA256 of the raw body)
with each configured webhook secret (``RAZORPAY_WEBHOOK_SECRETS``: during a rotation Razorpay
retries earlier events signed with the earlier secret), then deduplicated on
``X-Razorpay-Event-Id`` and applied through ``access.record``. A bad signature is counted
(``rejected``) and logged without the body, never audited. Every validly signed delivery gets a
2xx at once (captures are queued, see ``capture``), duplicates and event types we do not act
on included, so Razorpay never retries what we already have.

Events acted on: ``payment.authorized``, ``payment.captured``, ``payment.failed``,
``order.paid``; ``refund.created``, ``refund.processed``, ``refund.failed``;
``payment.dispute.created``, ``.under_review``, ``.action_required``, ``.won``, ``.lost``,
``.closed``. (Razorpay has no ``payment.refunded``.)
"""
import json
import logging
from dataclasses import replace
from datetime import timedelta

from pymongo.errors import DuplicateKeyError

from .. import audit
from ..adapters.razorpay import signature_matches
from ..db import now
from ..errors import BadRequest, ServiceUnavailable
from . import RAZORPAY, Source, Terms, access, capture, rejected, states

log = logging.getLogger("lms.payments")
STALE_DELIVERY = timedelta(minutes=1)  # a delivery still "processing" after this died midway
PAYMENT_EVENTS = ("payment.authorized", "payment.captured", "payment.failed", "order.paid")
REFUND_EVENTS = ("refund.created", "refund.processed", "refund.failed")
DISPUTE_EVENTS = {f"payment.dispute.{name}": status for name, status in (
    ("created", "open"), ("under_review", "under_review"), ("action_required", "action_required"),
    ("won", "won"), ("lost", "lost"), ("closed", "closed"))}
EVENTS = (*PAYMENT_EVENTS, *REFUND_EVENTS, *DISPUTE_EVENTS)


def receive(db, secrets, body, signature, event_id, actor, terms=Terms()):
    """One delivery: ``body`` the raw bytes, ``signature`` X-Razorpay-Signature, ``event_id``
    X-Razorpay-Event-Id. Returns the outcome (``captured``, ``duplicate``, ``ignored``, ...);
    raises 400 for a bad signature."""
    if not secrets:
        raise ServiceUnavailable("Razorpay payments are not configured on this server",
                                 code="razorpay_not_configured")
    if not any(signature_matches(secret, body, signature) for secret in secrets):
        rejected.note(db, "webhook")
        log.warning("razorpay webhook: %s signature from %s (%d bytes)", "bad" if signature else "no", actor.ip,
                    len(body))
        raise BadRequest("The webhook signature does not match", code="invalid_signature")
    event_id = event_id if event_id and len(event_id) <= 100 else None  # Razorpay's are ~20 characters
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
        outcome = _apply(db, event, name, Source(audit.Actor(RAZORPAY, RAZORPAY, actor.ip, actor.request_id),
                                                 f"webhook:{name}", terms))
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


def _entity(payload, kind):
    found = payload.get(kind) if isinstance(payload, dict) else None
    return found.get("entity") if isinstance(found, dict) else None


def _apply(db, event, name, source):
    if name not in EVENTS:
        return "ignored"
    payload = event.get("payload")
    entity = _entity(payload, "payment")
    facts = states.read_payment(entity)
    if facts is None:
        log.warning("razorpay webhook %s without a payment entity", name)
        return "malformed"
    if name in REFUND_EVENTS:
        refund = states.read_refund(_entity(payload, "refund"), facts.payment_id)
        if refund is None:
            return "malformed"
        facts = replace(facts, refund=refund)
    elif name in DISPUTE_EVENTS:
        dispute = states.read_dispute(_entity(payload, "dispute"), facts.payment_id, DISPUTE_EVENTS[name])
        if dispute is None:
            return "malformed"
        facts = replace(facts, dispute=dispute)
    recorded = access.record(db, facts, source, entity)
    return (name in PAYMENT_EVENTS and capture.consider(db, recorded, source)) or recorded.outcome
