"""Razorpay payments: orders for Checkout, Checkout verification, the signed webhook, refunds and
reconciliation.

A paid enrollment's ``payments`` row goes created -> captured -> refunded (``failed`` on the way
when an attempt fails) while the enrollment goes pending -> active -> refunded. Three sources
tell us what happened at Razorpay: the Checkout handler (``verify``), the webhook
(``receive_webhook``) and the worker (``reconcile``). The webhook and the worker both end in
``apply_payment``, which brings our row in line with a snapshot of a Razorpay payment entity;
every write there is one single-document update guarded by the state it leaves, so any number
of deliveries, in any order and at the same moment, change the data (and the audit log) once.

Decisions:
- One open order per enrollment. The enrollment's ``paymentId`` names its order's row and is
  set by a compare-and-set (``enrollments.attach_payment``). Racing enroll requests may each
  create an order at Razorpay, but only one is attached; the others' rows are deleted before
  anyone saw their order ids (an unused Razorpay order costs nothing). Re-enrolling while
  pending returns the attached order while it is still open and for the course's current price.
- Razorpay failing, timing out (``TIMEOUT``) or unreachable is a 502 ``razorpay_unavailable``
  (``razorpay_rejected`` when it refuses the request: wrong keys, an amount under its minimum);
  nothing is written before the order exists, so a retry starts clean.
- ``payment.failed`` marks the row ``failed`` but the order stays open: ``failed`` rows are still
  captured by a later ``payment.captured`` (late authorisation, UPI retries), reused for
  Checkout and reconciled.
- Verification trusts the Checkout signature for the amount: it binds the payment to our order,
  whose amount and currency we fixed when creating it. The webhook and the worker, which carry
  amounts, check order id, amount and currency; a mismatch is audited and changes nothing.
- Refunds follow Razorpay's cumulative ``amount_refunded`` (a stale snapshot never lowers it).
  A full refund makes the payment and the enrollment ``refunded`` (lessons close, certificates
  stay); a partial one is recorded in ``amountRefunded`` and keeps access.
- Signatures are HMAC-SHA256 over the bytes exactly as received, compared in constant time,
  computed here rather than with ``razorpay.Utility``, which takes ``str`` only and whose
  ``compare_digest`` raises TypeError on a non-ASCII signature.
"""
import hashlib
import hmac
import json
import logging
from contextlib import contextmanager
from datetime import timedelta

import razorpay
import requests
from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError
from razorpay.errors import BadRequestError, GatewayError, ServerError

from . import audit, enrollments
from .db import iso, new_id, now
from .errors import BadGateway, BadRequest, Conflict, NotFound, ServiceUnavailable

log = logging.getLogger("lms.payments")

OPEN = ("created", "failed")  # an order Checkout can still pay
TIMEOUT = (3.05, 5)  # seconds to connect and to read; the SDK has no timeout of its own
RECHECK_AFTER = timedelta(minutes=15)  # reconcile an order this long after it was handed out ...
RECHECK_MAX = timedelta(hours=6)  # ... then again at doubling intervals up to this ...
MAX_CHECKS = 10  # ... this many times (about a day and a half): then webhooks alone
CHECK_LEASE = timedelta(minutes=1)  # one worker checks an order at a time; a failed check retries
STALE_DELIVERY = timedelta(minutes=1)  # a delivery still "processing" after this died midway
HANDLED = ("payment.captured", "order.paid", "payment.failed", "refund.processed", "payment.refunded")
RAZORPAY = "razorpay"


def public(payment):
    return {"id": payment["_id"], "provider": payment["provider"], "orderId": payment.get("orderId"),
            "providerPaymentId": payment.get("providerPaymentId"), "userId": payment["userId"],
            "courseId": payment["courseId"], "enrollmentId": payment["enrollmentId"],
            "amount": payment["amount"], "currency": payment["currency"],
            "amountRefunded": payment.get("amountRefunded", 0), "status": payment["status"],
            "createdAt": iso(payment["createdAt"]), "updatedAt": iso(payment.get("updatedAt")),
            "capturedAt": iso(payment.get("capturedAt")), "failedAt": iso(payment.get("failedAt")),
            "refundedAt": iso(payment.get("refundedAt"))}


# --- orders -------------------------------------------------------------------------------

def open_order(db, settings, enrollment, course, actor):
    """The Razorpay order that pays for this pending enrollment, as Checkout needs it:
    ``{id, amount, currency, keyId}``. Reuses the attached order while it can still be paid."""
    _require(settings.razorpay_enabled)
    current = enrollment.get("paymentId") and db.payments.find_one({"_id": enrollment["paymentId"]})
    if current and current["status"] == "captured":
        # Paid, but the activation that follows a capture did not happen (a crash between the
        # two writes): finish it rather than sell the course twice.
        enrollments.activate(db, enrollment["_id"], current["_id"], actor)
        raise Conflict("You are already enrolled in this course", code="already_enrolled")
    if current and current["provider"] == RAZORPAY and current["status"] in OPEN and \
            (current["amount"], current["currency"]) == (course["price"], course["currency"]):
        db.payments.update_one({"_id": current["_id"], "status": {"$in": OPEN}},
                               {"$set": {"nextCheckAt": now() + RECHECK_AFTER, "checks": 0}})
        return _checkout(settings, current)
    row = _create_order(db, settings, enrollment, course)
    if enrollments.attach_payment(db, enrollment["_id"], enrollment.get("paymentId"), row["_id"]):
        audit.record(db, actor, "payment.order_created", "payment", row["_id"], orderId=row["orderId"],
                     amount=row["amount"], currency=row["currency"], enrollmentId=enrollment["_id"])
        return _checkout(settings, row)
    # Another request attached its order first: use that one; nobody has seen ours.
    db.payments.delete_one({"_id": row["_id"], "status": "created"})
    fresh = db.enrollments.find_one({"_id": enrollment["_id"], "status": "pending"})
    if fresh is None:
        raise Conflict("You are already enrolled in this course", code="already_enrolled")
    return open_order(db, settings, fresh, course, actor)


def _create_order(db, settings, enrollment, course):
    payment_id = new_id()
    amount, currency = course["price"], course["currency"]
    with _api(settings, "create an order") as client:
        order = client.order.create({
            "amount": amount, "currency": currency, "receipt": payment_id,
            "notes": {"paymentId": payment_id, "userId": enrollment["userId"], "courseId": course["_id"],
                      "enrollmentId": enrollment["_id"]}}, timeout=TIMEOUT)
    if not isinstance(order, dict) or not isinstance(order.get("id"), str) or \
            (order.get("amount"), order.get("currency")) != (amount, currency):
        log.error("razorpay: unexpected answer to an order for %s %s: %r", amount, currency, order)
        raise BadGateway("Razorpay answered with an unexpected order; try again", code="razorpay_unavailable")
    stamp = now()
    row = {"_id": payment_id, "provider": RAZORPAY, "orderId": order["id"], "providerPaymentId": None,
           "userId": enrollment["userId"], "courseId": course["_id"], "enrollmentId": enrollment["_id"],
           "amount": amount, "currency": currency, "amountRefunded": 0, "status": "created",
           "rawResponse": order, "history": [{"status": "created", "at": stamp}], "createdAt": stamp,
           "updatedAt": stamp, "capturedAt": None, "failedAt": None, "refundedAt": None,
           "nextCheckAt": stamp + RECHECK_AFTER, "checks": 0}
    db.payments.insert_one(row)
    return row


def _checkout(settings, row):
    return {"id": row["orderId"], "amount": row["amount"], "currency": row["currency"],
            "keyId": settings.razorpay_key_id}


def _require(configured):
    if not configured:
        raise ServiceUnavailable("Razorpay payments are not configured on this server",
                                 code="razorpay_not_configured")


class _Unreachable(Exception):
    """Razorpay could not be reached in time, or answered with something that is not JSON."""


class _Session(requests.Session):
    """Raises connection failures, timeouts and answers that are not JSON (a proxy's error page)
    past the SDK's own handlers, which print "Connection failed." or "Request error occurred"
    to stdout, where our log lines are JSON."""

    def request(self, *args, **kwargs):
        try:
            response = super().request(*args, **kwargs)
            response.json()
        except requests.RequestException as exc:  # JSONDecodeError is one too
            raise _Unreachable(f"{type(exc).__name__}: {exc}") from None
        return response


@contextmanager
def _api(settings, doing):
    """A Razorpay SDK client for one piece of work; its failures become 502 errors."""
    with _Session() as session:
        client = razorpay.Client(session=session, base_url=settings.razorpay_api_url,
                                 auth=(settings.razorpay_key_id, settings.razorpay_key_secret))
        try:
            yield client
        except BadRequestError as exc:
            log.error("razorpay refused to %s: %s", doing, exc)
            raise BadGateway("Razorpay refused the request", code="razorpay_rejected") from None
        except (_Unreachable, GatewayError, ServerError) as exc:
            log.warning("razorpay: could not %s: %s", doing, exc)
            raise BadGateway("Razorpay could not be reached; try again in a moment",
                             code="razorpay_unavailable") from None


# --- what Razorpay tells us -----------------------------------------------------------------

def verify(db, settings, user_id, order_id, provider_payment_id, signature, actor):
    """Checkout's success handler: ``razorpay_order_id|razorpay_payment_id`` signed with the key
    secret. Captures this user's order and activates the enrollment (once; a webhook may have
    already). Returns (payment, enrollment)."""
    _require(settings.razorpay_enabled)
    if not _signed(settings.razorpay_key_secret, f"{order_id}|{provider_payment_id}".encode(), signature):
        audit.record(db, actor, "payment.verify_rejected", "payment", order_id, reason="bad signature",
                     providerPaymentId=provider_payment_id)
        raise BadRequest("The payment signature does not match", code="invalid_signature")
    row = db.payments.find_one({"orderId": order_id, "provider": RAZORPAY})
    if not row or row["userId"] != user_id:
        raise NotFound("Payment not found")
    _capture(db, row, provider_payment_id, None, actor, "checkout")
    row = db.payments.find_one({"_id": row["_id"]})
    return row, db.enrollments.find_one({"_id": row["enrollmentId"]})


def receive_webhook(db, settings, body, signature, event_id, actor):
    """One webhook delivery: ``body`` the raw bytes, ``signature`` X-Razorpay-Signature,
    ``event_id`` X-Razorpay-Event-Id. Returns the outcome (``captured``, ``duplicate``,
    ``ignored``, ...); raises 400 for a bad signature, audited without the body."""
    _require(settings.razorpay_webhook_secret)
    event_id = event_id if event_id and len(event_id) <= 100 else None  # Razorpay's are ~20 characters
    if not _signed(settings.razorpay_webhook_secret, body, signature):
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
        outcome = _apply_event(db, event, name, audit.Actor(RAZORPAY, RAZORPAY, actor.ip, actor.request_id))
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


def _apply_event(db, event, name, actor):
    if name not in HANDLED:
        return "ignored"
    payload = event.get("payload")
    payment = payload.get("payment") if isinstance(payload, dict) else None
    entity = payment.get("entity") if isinstance(payment, dict) else None
    if not isinstance(entity, dict):
        log.warning("razorpay webhook %s without a payment entity", name)
        return "malformed"
    return apply_payment(db, entity, actor, f"webhook:{name}")


def apply_payment(db, entity, actor, via):
    """Bring our row of ``entity['order_id']`` in line with this snapshot of a Razorpay payment:
    captured (or refunded after a capture) captures and activates, failed records the failure,
    ``amount_refunded`` records refunds. Returns what changed (``unchanged`` for a replay)."""
    pid, order_id, status = entity.get("id"), entity.get("order_id"), entity.get("status")
    if not all(isinstance(v, str) for v in (pid, order_id, status)):
        return "malformed"
    row = db.payments.find_one({"orderId": order_id, "provider": RAZORPAY})
    if row is None:
        return "unknown_order"  # another integration on the same Razorpay account
    received = (entity.get("amount"), entity.get("currency"))
    if received != (row["amount"], row["currency"]):
        audit.record(db, actor, "payment.mismatch", "payment", row["_id"], orderId=order_id,
                     providerPaymentId=pid, expected={"amount": row["amount"], "currency": row["currency"]},
                     received={"amount": received[0], "currency": received[1]}, via=via)
        return "mismatch"
    outcome = "unchanged"
    # An auto-refund of a payment that was never captured says refunded with captured false.
    if status == "captured" or (status == "refunded" and entity.get("captured") is not False):
        outcome = "captured" if _capture(db, row, pid, entity, actor, via) else outcome
    elif status == "failed":
        outcome = "failed" if _fail(db, row, entity, actor, via) else outcome
    refunded = entity.get("amount_refunded")
    if isinstance(refunded, int) and not isinstance(refunded, bool) and refunded > 0:
        outcome = _refund(db, row, entity, refunded, actor, via) or outcome
    return outcome


def _capture(db, row, pid, entity, actor, via):
    """open -> captured, once; then activate the enrollment (itself once). Activating also after
    a replay repairs a crash between the two writes. True when this call captured."""
    stamp = now()
    changes = {"status": "captured", "providerPaymentId": pid, "capturedAt": stamp, "updatedAt": stamp,
               "nextCheckAt": None}
    if entity is not None:
        changes["rawResponse"] = entity
    captured = db.payments.find_one_and_update(
        {"_id": row["_id"], "status": {"$in": OPEN}},
        {"$set": changes,
         "$push": {"history": {"status": "captured", "at": stamp, "via": via, "paymentId": pid}}},
        return_document=ReturnDocument.AFTER)
    if captured:
        audit.record(db, actor, "payment.captured", "payment", row["_id"], orderId=row["orderId"],
                     providerPaymentId=pid, amount=row["amount"], currency=row["currency"], via=via)
    current = captured or db.payments.find_one({"_id": row["_id"]})
    if current["status"] == "captured":
        enrollments.activate(db, current["enrollmentId"], current["_id"], actor)
    return bool(captured)


def _fail(db, row, entity, actor, via):
    """Record a failed attempt once per Razorpay payment id; the order stays open."""
    pid, stamp = entity["id"], now()
    error = {key: entity.get(f"error_{key}") for key in ("code", "description", "source", "step", "reason")}
    failed = db.payments.find_one_and_update(
        {"_id": row["_id"], "status": {"$in": OPEN}, "history.paymentId": {"$ne": pid}},
        {"$set": {"status": "failed", "failedAt": stamp, "updatedAt": stamp, "lastError": error,
                  "rawResponse": entity},
         "$push": {"history": {"status": "failed", "at": stamp, "via": via, "paymentId": pid}}})
    if failed:
        audit.record(db, actor, "payment.failed", "payment", row["_id"], orderId=row["orderId"],
                     providerPaymentId=pid, errorCode=error["code"], errorDescription=error["description"],
                     via=via)
    return bool(failed)


def _refund(db, row, entity, total, actor, via):
    """Raise ``amountRefunded`` to Razorpay's cumulative ``total``; a full refund makes the
    payment and its enrollment ``refunded``. Returns what changed, or None."""
    stamp = now()
    update = {"$set": {"amountRefunded": total, "updatedAt": stamp, "rawResponse": entity}}
    if total < row["amount"]:  # a partial refund is no change of status, but its time counts for revenue
        update["$push"] = {"history": {"status": "partially_refunded", "at": stamp, "via": via,
                                       "amountRefunded": total}}
    grew = db.payments.find_one_and_update(
        {"_id": row["_id"], "status": {"$in": ["captured", "refunded"]}, "amountRefunded": {"$lt": total}},
        update, return_document=ReturnDocument.AFTER)
    current = grew or db.payments.find_one({"_id": row["_id"]})
    if current["status"] not in ("captured", "refunded"):
        return None  # never captured: nothing was paid, so nothing to take back
    if current["amountRefunded"] < current["amount"]:
        if grew:
            audit.record(db, actor, "payment.partially_refunded", "payment", row["_id"],
                         orderId=row["orderId"], amountRefunded=total, amount=row["amount"],
                         currency=row["currency"], via=via)
        return "partially_refunded" if grew else None
    refunded = db.payments.find_one_and_update(
        {"_id": row["_id"], "status": "captured"},
        {"$set": {"status": "refunded", "refundedAt": stamp, "updatedAt": stamp},
         "$push": {"history": {"status": "refunded", "at": stamp, "via": via}}})
    if refunded:
        audit.record(db, actor, "payment.refunded", "payment", row["_id"], orderId=row["orderId"],
                     amount=row["amount"], currency=row["currency"], via=via)
    enrollments.refund(db, current["enrollmentId"], current["_id"], actor)
    return "refunded" if refunded else None


def _signed(secret, message, signature):
    if not secret or not signature:
        return False
    expected = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), signature.encode())


# --- reconciliation -----------------------------------------------------------------------------

def reconcile(db, settings, limit=100):
    """Ask Razorpay about open orders handed out at least 15 minutes ago (then at doubling
    intervals, ``MAX_CHECKS`` times) and apply what it reports through ``apply_payment``, as if
    the webhook had said it. Stops at the first order Razorpay cannot answer for, so an outage
    costs one timeout per run. Returns how many orders were checked."""
    if not settings.razorpay_enabled:
        return 0
    actor, checked = audit.Actor(RAZORPAY, RAZORPAY), 0
    stamp = now()
    due = db.payments.find({"provider": RAZORPAY, "status": {"$in": OPEN}, "nextCheckAt": {"$lte": stamp}},
                           {"orderId": 1, "nextCheckAt": 1, "checks": 1}
                           ).sort([("nextCheckAt", 1), ("_id", 1)]).limit(limit)
    for row in list(due):
        if not db.payments.update_one({"_id": row["_id"], "nextCheckAt": row["nextCheckAt"]},
                                      {"$set": {"nextCheckAt": stamp + CHECK_LEASE}}).modified_count:
            continue  # another worker is checking it
        try:
            with _api(settings, f"list the payments of order {row['orderId']}") as client:
                found = client.order.payments(row["orderId"], timeout=TIMEOUT)
        except BadGateway as exc:
            if exc.code == "razorpay_unavailable":
                break  # down: the lease brings this order back in a minute
            found = None  # refused (say, an order of other keys): a check all the same, so it backs off
        items = found.get("items") if isinstance(found, dict) else None
        for entity in sorted((i for i in items or [] if isinstance(i, dict)), key=_made_at):
            apply_payment(db, entity, actor, "reconcile")  # oldest first: a failed attempt, then its retry
        checks = row.get("checks", 0) + 1
        later = stamp + min(RECHECK_AFTER * 2 ** checks, RECHECK_MAX) if checks < MAX_CHECKS else None
        db.payments.update_one({"_id": row["_id"], "status": {"$in": OPEN}},
                               {"$set": {"nextCheckAt": later, "checks": checks}})
        checked += 1
    return checked


def _made_at(entity):
    made = entity.get("created_at")
    return made if isinstance(made, int) else 0
