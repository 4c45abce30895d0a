"""A loopback stand-in for Razorpay: its REST API as the SDK calls it, and its side of Checkout
and webhooks, checking what Razorpay checks.

The API answers ``POST /v1/orders``, ``GET /v1/orders/<id>`` and ``GET /v1/orders/<id>/payments``
with Razorpay's entity shapes and error envelope (``{"error": {"code": "BAD_REQUEST_ERROR",
"description": ...}}``). It refuses calls without HTTP basic auth of the key id and secret (401,
"Authentication failed"), a body that is not JSON, an amount under 100 (the minimum of one rupee),
a currency that is not three capital letters, a receipt over 40 characters and notes that are not
at most 15 string values of 256 characters.

    double = RazorpayDouble().start()
    settings = make_settings(**double.env)         # RAZORPAY_* pointing the SDK here
    payment = double.pay(order_id)                 # a customer pays through Checkout
    double.checkout_response(payment)              # what Checkout's handler gets, signed
    body, headers = double.webhook("payment.captured", payment)   # signed as Razorpay signs
    double.fail_next(2, status=500)                # the next two API calls answer an error
    double.answer_next(502, b"<html>...")          # the next API call answers this instead
    double.slow_next(7)                            # the next API call answers after 7 seconds
    double.stop(); double.start()                  # down (connection refused), back on the same port
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

import pytest

from .loopback import LoopbackDouble

ORDER_PATH = re.compile(r"^/v1/orders/(?P<id>order_[A-Za-z0-9]+)(?P<payments>/payments)?$")
ALPHABET = string.ascii_letters + string.digits


def razorpay_id(prefix):
    return f"{prefix}_" + "".join(secrets.choice(ALPHABET) for _ in range(14))


def sign(secret, message):
    """HMAC-SHA256 hex, as Razorpay signs webhooks (the raw body) and Checkout responses."""
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def error(description, code="BAD_REQUEST_ERROR", field=None):
    return {"error": {"code": code, "description": description, "source": "NA", "step": "NA",
                      "reason": "NA", "metadata": {}, **({"field": field} if field else {})}}


class RazorpayDouble(LoopbackDouble):
    def __init__(self, key_id="rzp_test_D0ubleKey12345", key_secret="double-key-secret-9f3Kq",
                 webhook_secret="double-webhook-secret-T7x"):
        self.handler = _Handler
        self.key_id, self.key_secret, self.webhook_secret = key_id, key_secret, webhook_secret
        self.account_id = "acc_" + "D0ubleAccount1"
        self.orders = {}      # id -> order entity
        self.payments = {}    # id -> payment entity
        self.calls = []       # (method, path) of every authenticated API call
        self._canned = []     # (status, JSON or raw bytes) to answer instead of handling the next calls
        self._delays = []     # seconds to wait before answering the next calls
        self._lock = threading.Lock()
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

    # --- the API ------------------------------------------------------------------------

    def handle(self, method, path, authorization, body):
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
        match = ORDER_PATH.match(path)
        if method == "GET" and match:
            with self._lock:
                order = self.orders.get(match["id"])
                if order is None:
                    return 400, error("The id provided does not exist")
                if not match["payments"]:
                    return 200, dict(order)
                items = [dict(p) for p in self.payments.values() if p["order_id"] == order["id"]]
            items.sort(key=lambda p: p["created_at"], reverse=True)
            return 200, {"entity": "collection", "count": len(items), "items": items}
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
        if not isinstance(notes, dict) or len(notes) > 15 or \
                any(not isinstance(v, str) or len(v) > 256 for v in notes.values()):
            return 400, error("notes must be at most 15 pairs of up to 256 characters", field="notes")
        order = {"id": razorpay_id("order"), "entity": "order", "amount": amount, "amount_paid": 0,
                 "amount_due": amount, "currency": currency, "receipt": receipt, "offer_id": None,
                 "status": "created", "attempts": 0, "notes": notes or [], "created_at": int(time.time())}
        with self._lock:
            self.orders[order["id"]] = order
        return 200, dict(order)

    # --- the customer, Checkout and webhooks ---------------------------------------------

    def pay(self, order_id, status="captured", method="upi"):
        """A customer's payment attempt on an order: ``captured`` or ``failed``."""
        with self._lock:
            order = self.orders[order_id]
            order["attempts"] += 1
            failed = status == "failed"
            payment = {
                "id": razorpay_id("pay"), "entity": "payment", "amount": order["amount"],
                "currency": order["currency"], "status": status, "order_id": order_id, "invoice_id": None,
                "international": False, "method": method, "amount_refunded": 0, "refund_status": None,
                "captured": status == "captured", "description": "Course enrollment", "card_id": None,
                "bank": None, "wallet": None, "vpa": "student@okbank" if method == "upi" else None,
                "email": "student@example.com", "contact": "+919900000000", "notes": order["notes"],
                "fee": None if failed else order["amount"] // 50, "tax": None if failed else 0,
                "error_code": "BAD_REQUEST_ERROR" if failed else None,
                "error_description": "Payment was unsuccessful as you may have entered an incorrect UPI PIN."
                if failed else None,
                "error_source": "customer" if failed else None,
                "error_step": "payment_authorization" if failed else None,
                "error_reason": "incorrect_pin" if failed else None,
                "acquirer_data": {"rrn": None if failed else "322206890934"},
                "created_at": int(time.time()) + len(self.payments)}  # attempts sort in the order made
            self.payments[payment["id"]] = payment
            if status == "captured":
                order.update(status="paid", amount_paid=order["amount"], amount_due=0)
            else:
                order["status"] = "attempted"
            return dict(payment)

    def refund(self, payment_id, amount=None):
        """Refund ``amount`` (default: what is left) of a captured payment; the refund entity."""
        with self._lock:
            payment = self.payments[payment_id]
            amount = amount or payment["amount"] - payment["amount_refunded"]
            payment["amount_refunded"] += amount
            full = payment["amount_refunded"] >= payment["amount"]
            payment.update(refund_status="full" if full else "partial",
                           status="refunded" if full else "captured")
            return {"id": razorpay_id("rfnd"), "entity": "refund", "amount": amount,
                    "currency": payment["currency"], "payment_id": payment_id, "notes": [], "receipt": None,
                    "acquirer_data": {"arn": None}, "created_at": int(time.time()), "batch_id": None,
                    "status": "processed", "speed_processed": "normal", "speed_requested": "normal"}

    def payment(self, payment_id):
        with self._lock:
            return dict(self.payments[payment_id])

    def checkout_response(self, payment):
        """What Checkout hands its success handler: the ids, signed with the key secret."""
        message = f"{payment['order_id']}|{payment['id']}".encode()
        return {"razorpay_payment_id": payment["id"], "razorpay_order_id": payment["order_id"],
                "razorpay_signature": sign(self.key_secret, message)}

    def webhook(self, event, payment, refund=None, event_id=None, body=None):
        """(raw body, headers) of one delivery of ``event``, as Razorpay sends it: the entities
        the event carries, signed with the webhook secret. ``body`` replaces the serialized
        event (to send bytes as they are)."""
        payload = {"payment": {"entity": payment}}
        if event == "order.paid":
            payload["order"] = {"entity": dict(self.orders[payment["order_id"]])}
        if refund is not None:
            payload["refund"] = {"entity": refund}
        if body is None:
            body = json.dumps({"entity": "event", "account_id": self.account_id, "event": event,
                               "contains": list(payload), "payload": payload,
                               "created_at": int(time.time())}).encode()
        return body, {"Content-Type": "application/json",
                      "X-Razorpay-Signature": sign(self.webhook_secret, body),
                      "X-Razorpay-Event-Id": event_id or razorpay_id("evt")}


class _Handler(BaseHTTPRequestHandler):
    double = None

    def do_GET(self):
        self._handle()

    def do_POST(self):
        self._handle()

    def _handle(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        path = self.path.split("?", 1)[0]
        status, payload = self.double.handle(self.command, path, self.headers.get("Authorization"), body)
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
