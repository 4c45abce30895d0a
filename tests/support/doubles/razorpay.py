"""A loopback stand-in for Razorpay: its REST API as the SDK calls it, and its side of Checkout,
captures, refunds, disputes and webhooks, in the entity shapes and event sequences Razorpay
documents, checking what Razorpay checks.

The API (HTTP basic auth of the key id and secret, else 401 "Authentication failed"; errors in
Razorpay's envelope ``{"error": {"code": "BAD_REQUEST_ERROR", "description": ...}}``):

    POST /v1/orders                      amount >= 100, currency AAA, receipt <= 40, notes <= 15 x 256
    GET  /v1/orders/<id>[/payments]
    GET  /v1/payments/<id>
    POST /v1/payments/<id>/capture       {amount, currency}: only an authorised payment, its amount
    POST /v1/payments/<id>/refund        {amount?, notes?}: only a captured payment, at most what is left
    GET  /v1/payments/<id>/refunds
    GET  /v1/disputes?from&count&skip

What happens at Razorpay (each queues the webhook events Razorpay sends, in its order; take
them with ``deliveries()``):

    double = RazorpayDouble().start()            # the account captures automatically, like Razorpay's default
    double.auto_capture = False                  # Dashboard: manual capture
    payment = double.pay(order_id)               # payment.authorized (+ payment.captured, order.paid)
    double.pay(order_id, status="failed")        # payment.failed
    double.late_authorize(payment_id)            # a failed payment authorised late; refunded at once
                                                 #   when its order is paid already (Razorpay's auto-refund)
    double.expire_authorization(payment_id)      # an authorisation never captured: auto-refunded
    refund = double.refund(payment_id, amount)   # refund.created, refund.processed (``pending=True``: created only)
    double.process_refund(refund["id"])          # refund.processed of a pending refund
    dispute = double.dispute(payment_id)         # payment.dispute.created
    double.resolve(dispute["id"], "lost")        # payment.dispute.lost (under_review, action_required, won, closed)
    for body, headers in double.deliveries(): ...
    double.checkout_response(payment)            # what Checkout's handler gets, signed
    double.webhook("payment.captured", payment)  # one delivery made by hand
    double.fail_next(2, status=500); double.answer_next(502, b"<html>"); double.slow_next(7)
    double.stop(); double.start()                # down (connection refused), back on the same port

Entities carry ``notes`` as an object, or ``[]`` when there are none, and ``created_at`` as
integer Unix times, as Razorpay's do. Deliveries are signed with ``webhook_secret`` as it is when
they are queued, so changing it mid-test is a secret rotation with earlier events retried.
"""
import base64
import hashlib
import hmac
import json
import re
import secrets
import string
import threading
import time
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs

import pytest

from .loopback import LoopbackDouble

ROUTE = re.compile(r"^/v1/(?P<kind>orders|payments)/(?P<id>(order|pay)_[A-Za-z0-9]+)(?P<rest>/[a-z]+)?$")
ALPHABET = string.ascii_letters + string.digits


def razorpay_id(prefix):
    return f"{prefix}_" + "".join(secrets.choice(ALPHABET) for _ in range(14))


def sign(secret, message):
    """HMAC-SHA256 hex, as Razorpay signs webhooks (the raw body) and Checkout responses."""
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def error(description, code="BAD_REQUEST_ERROR", field=None):
    return {"error": {"code": code, "description": description, "source": "NA", "step": "NA",
                      "reason": "NA", "metadata": {}, **({"field": field} if field else {})}}


def _notes(notes):
    return notes if isinstance(notes, dict) and len(notes) <= 15 and \
        all(isinstance(v, str) and len(v) <= 256 for v in notes.values()) else None


class RazorpayDouble(LoopbackDouble):
    def __init__(self, key_id="rzp_test_D0ubleKey12345", key_secret="double-key-secret-9f3Kq",
                 webhook_secret="double-webhook-secret-T7x"):
        self.handler = _Handler
        self.key_id, self.key_secret, self.webhook_secret = key_id, key_secret, webhook_secret
        self.account_id = "acc_" + "D0ubleAccount1"
        self.auto_capture = True  # Razorpay's default payment capture setting
        self.orders, self.payments, self.refunds, self.disputes = {}, {}, {}, {}
        self.calls = []       # (method, path) of every authenticated API call
        self.outbox = []      # (body, headers) of webhook deliveries not taken yet
        self._canned = []     # (status, JSON or raw bytes) to answer instead of handling the next calls
        self._delays = []     # seconds to wait before answering the next calls
        self._clock = int(time.time())
        self._lock = threading.RLock()
        self._released = threading.Event()

    @property
    def url(self):
        return self.base_url

    @property
    def env(self):
        """The environment variables that point the service at this double."""
        return {"RAZORPAY_KEY_ID": self.key_id, "RAZORPAY_KEY_SECRET": self.key_secret,
                "RAZORPAY_WEBHOOK_SECRET": self.webhook_secret, "RAZORPAY_API_URL": self.url}

    def before_stop(self):
        self._released.set()  # slow answers stop waiting

    def start(self):
        self._released.clear()
        return super().start()

    def fail_next(self, n=1, status=500):
        """Answer the next ``n`` API calls with ``status`` and Razorpay's error envelope."""
        answer = (error("The server encountered an error. The incident has been reported to admins.",
                        code="SERVER_ERROR") if status >= 500 else error("Bad request"))
        for _ in range(n):
            self.answer_next(status, answer)

    def answer_next(self, status, body):
        """Answer the next API call with ``status`` and ``body`` (JSON, or bytes sent as they are)."""
        with self._lock:
            self._canned.append((status, body))

    def slow_next(self, seconds, n=1):
        """Hold the next ``n`` API calls for ``seconds`` before handling them."""
        with self._lock:
            self._delays.extend([seconds] * n)

    def _tick(self):
        """Razorpay's clock: every entity made later has a later ``created_at``."""
        self._clock = max(self._clock + 1, int(time.time()))
        return self._clock

    # --- the API ------------------------------------------------------------------------

    def handle(self, method, path, query, authorization, body):
        """(status, JSON) for one API call, judged as Razorpay judges it."""
        with self._lock:
            delay = self._delays.pop(0) if self._delays else 0
        if delay:
            self._released.wait(delay)
        if not self._authorized(authorization):
            return 401, error("Authentication failed")
        with self._lock:
            self.calls.append((method, path))
            canned = self._canned.pop(0) if self._canned else None
            if canned:
                return canned
            if method == "POST" and path == "/v1/orders":
                return self._create_order(body)
            if method == "GET" and path == "/v1/disputes":
                return self._list_disputes(query)
            match = ROUTE.match(path)
            if not match:
                return 400, error("The requested URL was not found on the server.")
            found = (self.orders if match["kind"] == "orders" else self.payments).get(match["id"])
            if found is None:
                return 400, error("The id provided does not exist")
            rest = match["rest"]
            if method == "GET" and rest is None:
                return 200, dict(found)
            if method == "GET" and rest in ("/payments", "/refunds"):
                items = [dict(p) for p in self.payments.values() if p["order_id"] == found["id"]] \
                    if rest == "/payments" else [dict(r) for r in self.refunds.values() if r["payment_id"] == found["id"]]
                return 200, _collection(items)
            if method == "POST" and rest in ("/capture", "/refund"):
                try:
                    data = json.loads(body or b"{}")
                except ValueError:
                    return 400, error("The request body is not valid JSON")
                return self._capture(found, data) if rest == "/capture" else self._refund_call(found, data)
            return 400, error("The requested URL was not found on the server.")

    def _authorized(self, header):
        expected = base64.b64encode(f"{self.key_id}:{self.key_secret}".encode()).decode()
        return hmac.compare_digest((header or "").encode(), f"Basic {expected}".encode())

    def _create_order(self, body):
        try:
            data = json.loads(body)
        except ValueError:
            return 400, error("The request body is not valid JSON")
        amount, currency = data.get("amount"), data.get("currency")
        receipt, notes = data.get("receipt"), data.get("notes", {})
        if not isinstance(amount, int) or isinstance(amount, bool) or amount < 100:
            return 400, error("The amount must be atleast INR 1.00", field="amount")
        if not isinstance(currency, str) or not re.fullmatch(r"[A-Z]{3}", currency):
            return 400, error("The currency is invalid", field="currency")
        if receipt is not None and (not isinstance(receipt, str) or len(receipt) > 40):
            return 400, error("The receipt may not be greater than 40 characters.", field="receipt")
        if _notes(notes) is None:
            return 400, error("notes must be at most 15 pairs of up to 256 characters", field="notes")
        order = {"id": razorpay_id("order"), "entity": "order", "amount": amount, "amount_paid": 0,
                 "amount_due": amount, "currency": currency, "receipt": receipt, "offer_id": None,
                 "status": "created", "attempts": 0, "notes": notes or [], "created_at": self._tick()}
        self.orders[order["id"]] = order
        return 200, dict(order)

    def _capture(self, payment, data):
        if payment["status"] == "captured" or payment["captured"]:
            return 400, error("This payment has already been captured")
        if payment["status"] != "authorized":
            return 400, error("Only payments which have been authorized and not yet captured can be captured")
        if data.get("amount") != payment["amount"]:
            return 400, error("Capture amount must be equal to the amount authorized", field="amount")
        if data.get("currency") != payment["currency"]:
            return 400, error("The currency should be same as the payment currency", field="currency")
        self._captured(payment)
        return 200, dict(payment)

    def _refund_call(self, payment, data):
        amount = data.get("amount", payment["amount"] - payment["amount_refunded"])
        if not payment["captured"]:
            return 400, error("The payment has not been captured")
        if payment["amount_refunded"] >= payment["amount"]:
            return 400, error("The payment has been fully refunded already")
        if not isinstance(amount, int) or isinstance(amount, bool) or amount < 100:
            return 400, error("The amount must be atleast INR 1.00", field="amount")
        if amount > payment["amount"] - payment["amount_refunded"]:
            return 400, error("The refund amount provided is greater than amount captured", field="amount")
        if _notes(data.get("notes", {})) is None:
            return 400, error("notes must be at most 15 pairs of up to 256 characters", field="notes")
        return 200, self.refund(payment["id"], amount, notes=data.get("notes") or [])

    def _list_disputes(self, query):
        since = int(query.get("from", ["0"])[0])
        count, skip = int(query.get("count", ["10"])[0]), int(query.get("skip", ["0"])[0])
        items = sorted((dict(d) for d in self.disputes.values() if d["created_at"] >= since),
                       key=lambda d: d["created_at"], reverse=True)
        return 200, _collection(items[skip:skip + min(count, 100)])

    # --- what happens at Razorpay --------------------------------------------------------

    def pay(self, order_id, status="captured", method="upi"):
        """A customer's payment attempt on an order through Checkout: ``failed``, or authorised
        (and captured at once when ``auto_capture``; ``status="authorized"`` keeps it authorised
        whatever the setting). A payment on an order already paid is refunded at once, never
        captured, as Razorpay does. Returns the payment entity as it is now."""
        with self._lock:
            order = self.orders[order_id]
            order["attempts"] += 1
            failed = status == "failed"
            payment = {
                "id": razorpay_id("pay"), "entity": "payment", "amount": order["amount"],
                "currency": order["currency"], "status": "failed" if failed else "authorized", "order_id": order_id,
                "invoice_id": None, "international": False, "method": method, "amount_refunded": 0,
                "refund_status": None, "captured": False, "description": "Course enrollment",
                "card_id": "card_D0ubleCard0001" if method == "card" else None, "bank": None, "wallet": None,
                "vpa": "student@okbank" if method == "upi" else None, "email": "student@example.com",
                "contact": "+919900000000", "notes": order["notes"], "fee": None, "tax": None,
                "error_code": None, "error_description": None, "error_source": None, "error_step": None,
                "error_reason": None, "acquirer_data": {"rrn": None}, "created_at": self._tick()}
            self.payments[payment["id"]] = payment
            if failed:
                payment.update(error_code="BAD_REQUEST_ERROR", error_source="customer",
                               error_description="Payment was unsuccessful as you may have entered an incorrect UPI PIN.",
                               error_step="payment_authorization", error_reason="incorrect_pin")
                order["status"] = "attempted" if order["status"] == "created" else order["status"]
                self._send("payment.failed", payment)
            else:
                self._authorized_now(payment, capture=status == "captured" and self.auto_capture)
            return dict(payment)

    def _authorized_now(self, payment, capture):
        order = self.orders[payment["order_id"]]
        payment.update(status="authorized", error_code=None, error_description=None, error_source=None,
                       error_step=None, error_reason=None, acquirer_data={"rrn": "322206890934"})
        self._send("payment.authorized", payment)
        if order["status"] == "paid":
            self._auto_refund(payment)  # a second payment on a paid order
        elif capture:
            self._captured(payment)
        elif order["status"] == "created":
            order["status"] = "attempted"

    def _captured(self, payment):
        order = self.orders[payment["order_id"]]
        payment.update(status="captured", captured=True, fee=payment["amount"] // 50, tax=0)
        self._send("payment.captured", payment)
        if order["status"] != "paid":
            order.update(status="paid", amount_paid=order["amount"], amount_due=0)
            self._send("order.paid", payment)

    def _auto_refund(self, payment):
        self.refund(payment["id"], payment["amount"], auto=True)

    def late_authorize(self, payment_id):
        """A failed payment that the bank authorised after all (UPI, netbanking timeouts)."""
        with self._lock:
            payment = self.payments[payment_id]
            self._authorized_now(payment, capture=self.auto_capture)
            return dict(payment)

    def expire_authorization(self, payment_id):
        """An authorised payment nobody captured within the capture window: refunded by Razorpay."""
        with self._lock:
            self._auto_refund(self.payments[payment_id])
            return dict(self.payments[payment_id])

    def refund(self, payment_id, amount=None, notes=None, pending=False, auto=False):
        """Refund ``amount`` (default: what is left) of a payment; the refund entity. Razorpay sends
        refund.created, then refund.processed (at once unless ``pending``)."""
        with self._lock:
            payment = self.payments[payment_id]
            amount = amount or payment["amount"] - payment["amount_refunded"]
            payment["amount_refunded"] += amount
            full = payment["amount_refunded"] >= payment["amount"]
            payment.update(refund_status="full" if full else "partial")
            if full:
                payment["status"] = "refunded"
            refund = {"id": razorpay_id("rfnd"), "entity": "refund", "amount": amount,
                      "currency": payment["currency"], "payment_id": payment_id, "notes": notes or [],
                      "receipt": None, "acquirer_data": {"arn": None}, "created_at": self._tick(), "batch_id": None,
                      "status": "pending", "speed_processed": "normal", "speed_requested": "normal"}
            self.refunds[refund["id"]] = refund
            self._send("refund.created", payment, refund=refund)
            if not pending:
                self.process_refund(refund["id"])
            return dict(refund)

    def process_refund(self, refund_id):
        with self._lock:
            refund = self.refunds[refund_id]
            refund.update(status="processed", acquirer_data={"arn": "74836482936473829"})
            self._send("refund.processed", self.payments[refund["payment_id"]], refund=refund)
            return dict(refund)

    def dispute(self, payment_id, amount=None, phase="chargeback"):
        """A chargeback raised against a captured payment: payment.dispute.created."""
        with self._lock:
            payment = self.payments[payment_id]
            created = self._tick()
            dispute = {"id": razorpay_id("disp"), "entity": "dispute", "payment_id": payment_id,
                       "amount": amount or payment["amount"], "currency": payment["currency"], "amount_deducted": 0,
                       "gateway_dispute_id": None, "reason_code": "goods_or_services_not_received_or_partially_received",
                       "respond_by": created + 7 * 86400, "status": "open", "phase": phase, "comments": None,
                       "created_at": created}
            self.disputes[dispute["id"]] = dispute
            self._send("payment.dispute.created", payment, dispute=dispute)
            return dict(dispute)

    def resolve(self, dispute_id, outcome):
        """A dispute moves on: ``under_review``, ``action_required`` (its status stays
        under_review), ``won``, ``lost`` (the amount is deducted) or ``closed``."""
        with self._lock:
            dispute = self.disputes[dispute_id]
            dispute["status"] = "under_review" if outcome == "action_required" else outcome
            if outcome == "lost":
                dispute["amount_deducted"] = dispute["amount"]
            self._send(f"payment.dispute.{outcome}", self.payments[dispute["payment_id"]], dispute=dispute)
            return dict(dispute)

    def payment(self, payment_id):
        with self._lock:
            return dict(self.payments[payment_id])

    # --- Checkout and webhooks -----------------------------------------------------------

    def checkout_response(self, payment):
        """What Checkout hands its success handler: the ids, signed with the key secret."""
        message = f"{payment['order_id']}|{payment['id']}".encode()
        return {"razorpay_payment_id": payment["id"], "razorpay_order_id": payment["order_id"],
                "razorpay_signature": sign(self.key_secret, message)}

    def _send(self, event, payment, refund=None, dispute=None):
        self.outbox.append(self.webhook(event, dict(payment), dict(refund) if refund else None,
                                        dispute=dict(dispute) if dispute else None))

    def deliveries(self, *events):
        """The webhook deliveries queued since last asked (only those of ``events`` when named),
        in the order Razorpay sent them; the others stay queued."""
        with self._lock:
            taken = [d for d in self.outbox if not events or json.loads(d[0])["event"] in events]
            self.outbox = [d for d in self.outbox if d not in taken]
            return taken

    def webhook(self, event, payment, refund=None, event_id=None, body=None, dispute=None):
        """(raw body, headers) of one delivery of ``event``, as Razorpay sends it: the entities
        the event carries, signed with the webhook secret. ``body`` replaces the serialized
        event (to send bytes as they are)."""
        payload = {"payment": {"entity": payment}}
        if event == "order.paid":
            payload["order"] = {"entity": dict(self.orders[payment["order_id"]])}
        if refund is not None:
            payload["refund"] = {"entity": refund}
        if dispute is not None:
            payload["dispute"] = {"entity": dispute}
        if body is None:
            body = json.dumps({"entity": "event", "account_id": self.account_id, "event": event,
                               "contains": list(payload), "payload": payload,
                               "created_at": int(time.time())}).encode()
        return body, {"Content-Type": "application/json",
                      "X-Razorpay-Signature": sign(self.webhook_secret, body),
                      "X-Razorpay-Event-Id": event_id or razorpay_id("evt")}


def _collection(items):
    return {"entity": "collection", "count": len(items),
            "items": sorted(items, key=lambda i: i["created_at"], reverse=True)}


class _Handler(BaseHTTPRequestHandler):
    double = None

    def do_GET(self):
        self._handle()

    def do_POST(self):
        self._handle()

    def _handle(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        path, _, query = self.path.partition("?")
        status, payload = self.double.handle(self.command, path, parse_qs(query), self.headers.get("Authorization"),
                                             body)
        raw = isinstance(payload, bytes)
        data = payload if raw else json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "text/html" if raw else "application/json; charset=UTF-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up waiting (a timeout test)

    def log_message(self, *args):
        pass


@pytest.fixture
def razorpay_double():
    """A running RazorpayDouble, stopped after the test; ``razorpay_double.env`` points a
    service at it."""
    with RazorpayDouble() as double:
        yield double
