"""Razorpay: the Checkout handler's confirmation and the webhook.

The webhook reads the raw body itself (it declares no ``body``): its signature is computed over
exactly the bytes received, so they must not be parsed and re-encoded first.
"""
import bottle

from .. import payments
from ..learning import enrollments
from ..payments import checkout, webhook as deliveries
from ..schema import Obj, Str
from ..web.bodies import read_body

VERIFY = Obj(razorpay_order_id=Str(min=1, max=64), razorpay_payment_id=Str(min=1, max=64),
             razorpay_signature=Str(min=1, max=128, description="Checkout's HMAC-SHA256 hex"))


def verify(db, razorpay, user, body, actor):
    payment, enrollment = checkout.confirm(db, razorpay, user["id"], body["razorpay_order_id"],
                                           body["razorpay_payment_id"], body["razorpay_signature"], actor)
    return {"payment": payments.public(payment), "enrollment": enrollments.public(enrollment)}


def webhook(db, settings, actor):
    request = bottle.request
    # Headers straight from the environ: Bottle's get_header raises on bytes that are not UTF-8.
    header = request.environ.get
    outcome = deliveries.receive(db, settings.razorpay_webhook_secret, read_body(request, settings.max_body_bytes),
                                 header("HTTP_X_RAZORPAY_SIGNATURE"), header("HTTP_X_RAZORPAY_EVENT_ID"), actor)
    return {"outcome": outcome}
