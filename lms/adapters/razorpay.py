"""Razorpay's REST API through its SDK, opened once per process, and its signatures.

The SDK (razorpay 2.0) has no timeout of its own and prints "Connection failed." or "Request
error occurred" to stdout (where our log lines are JSON) before re-raising; ``_Session`` raises
connection failures, timeouts and answers that are not JSON (a proxy's error page) past those
handlers. Failures become ``RazorpayUnavailable`` (down, slow past ``TIMEOUT``, 5xx) or
``RazorpayRejected`` (Razorpay refused: wrong keys, an amount under its minimum); what the
client is told is the web layer's business.

Signatures are HMAC-SHA256 over the bytes exactly as received, compared in constant time,
computed here rather than with ``razorpay.Utility``, which takes ``str`` only and whose
``compare_digest`` raises TypeError on a non-ASCII signature.
"""
import hashlib
import hmac
import logging

import razorpay
import requests
from razorpay.errors import BadRequestError, GatewayError, ServerError

from ..errors import RazorpayRejected, RazorpayUnavailable

log = logging.getLogger("lms.payments")
TIMEOUT = (3.05, 5)  # seconds to connect and to read


def open_razorpay(settings):
    """The client ``settings`` configure, or None when Razorpay is off."""
    if not settings.razorpay_enabled:
        return None
    return Razorpay(settings.razorpay_key_id, settings.razorpay_key_secret, settings.razorpay_api_url)


class Razorpay:
    def __init__(self, key_id, key_secret, api_url, timeout=TIMEOUT):
        self.key_id = key_id
        self._key_secret = key_secret
        self.timeout = timeout
        # One session: its connection pool is shared by every greenlet of the process.
        self._client = razorpay.Client(session=_Session(), base_url=api_url, auth=(key_id, key_secret))

    def __repr__(self):
        return f"Razorpay({self.key_id!r})"

    def create_order(self, amount, currency, receipt, notes):
        return self._call("create an order", self._client.order.create,
                          {"amount": amount, "currency": currency, "receipt": receipt, "notes": notes})

    def order_payments(self, order_id):
        return self._call(f"list the payments of order {order_id}", self._client.order.payments, order_id)

    def payment(self, payment_id):
        return self._call(f"fetch payment {payment_id}", self._client.payment.fetch, payment_id, {})

    def capture(self, payment_id, amount, currency):
        """Capture an authorised payment (POST /v1/payments/:id/capture {amount, currency})."""
        return self._call(f"capture payment {payment_id}", self._client.payment.capture, payment_id, amount,
                          {"currency": currency})

    def refund(self, payment_id, amount, notes):
        """Refund ``amount`` of a captured payment (POST /v1/payments/:id/refund): the refund entity."""
        return self._call(f"refund payment {payment_id}", self._client.payment.refund, payment_id,
                          {"amount": amount, "speed": "normal", "notes": notes})

    def refunds(self, payment_id):
        """The refunds of a payment, newest first (GET /v1/payments/:id/refunds), up to 100."""
        return self._call(f"list the refunds of payment {payment_id}", self._client.payment.fetch_multiple_refund,
                          payment_id, {"count": 100})

    def disputes(self, since, skip=0, count=100):
        """One page of the account's disputes created since ``since`` (a Unix time): GET /v1/disputes."""
        return self._call("list disputes", self._client.dispute.all, {"from": since, "count": count, "skip": skip})

    def checkout_signed(self, order_id, payment_id, signature):
        """Whether ``signature`` is Checkout's for this order and payment (signed with the key secret)."""
        return signature_matches(self._key_secret, f"{order_id}|{payment_id}".encode(), signature)

    def _call(self, doing, method, *args):
        try:
            return method(*args, timeout=self.timeout)
        except BadRequestError as exc:
            log.error("razorpay refused to %s: %s", doing, exc)
            raise RazorpayRejected(f"Razorpay refused to {doing}: {exc}") from None
        except (_Unreachable, GatewayError, ServerError) as exc:
            log.warning("razorpay: could not %s: %s", doing, exc)
            raise RazorpayUnavailable(f"could not {doing}: {exc}") from None


def signature_matches(secret, message, signature):
    if not secret or not signature:
        return False
    expected = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), signature.encode())


class _Unreachable(Exception):
    """Razorpay could not be reached in time, or answered with something that is not JSON."""


class _Session(requests.Session):
    def request(self, *args, **kwargs):
        try:
            response = super().request(*args, **kwargs)
            response.json()
        except requests.RequestException as exc:  # JSONDecodeError is one too
            raise _Unreachable(f"{type(exc).__name__}: {exc}") from None
        return response
