"""Razorpay: the Checkout handler's confirmation and the webhook.

The webhook reads the raw body itself (it declares no ``body``): its signature is computed over
exactly the bytes received, so they must not be parsed and re-encoded first.
"""
import bottle

from .. import enrollments, payments, ratelimit
from ..schema import Obj, Str
from ..web import read_body

VERIFY = Obj(razorpay_order_id=Str(min=1, max=64), razorpay_payment_id=Str(min=1, max=64),
             razorpay_signature=Str(min=1, max=128, description="Checkout's HMAC-SHA256 hex"))


def verify(runtime, user, body, actor):
    payment, enrollment = payments.verify(runtime.db, runtime.settings, user["id"], body["razorpay_order_id"],
                                          body["razorpay_payment_id"], body["razorpay_signature"], actor)
    return {"payment": payments.public(payment), "enrollment": enrollments.public(enrollment)}


def webhook(runtime, actor):
    request = bottle.request
    ratelimit.hit(runtime.db, "webhook-ip", actor.ip)
    # Headers straight from the environ: Bottle's get_header raises on bytes that are not UTF-8.
    header = request.environ.get
    outcome = payments.receive_webhook(
        runtime.db, runtime.settings, read_body(request, runtime.settings.max_body_bytes),
        header("HTTP_X_RAZORPAY_SIGNATURE"), header("HTTP_X_RAZORPAY_EVENT_ID"), actor)
    return {"outcome": outcome}
