"""Razorpay: the Checkout handler's confirmation, the webhook, and the admins' view of money.

The webhook reads the raw body itself (it declares no ``body``): its signature is computed over
exactly the bytes received, so they must not be parsed and re-encoded first.
"""
import bottle

from .. import payments
from ..learning import enrollments
from ..payments import Terms, checkout, refunds, webhook as deliveries
from ..reports import payments as money
from ..schema import PAGE, Bool, Id, Int, Obj, Query, Str
from ..web.bodies import read_body
from .admin import FORMAT, WHEN, filtered_list

VERIFY = Obj(razorpay_order_id=Str(min=1, max=64), razorpay_payment_id=Str(min=1, max=64),
             razorpay_signature=Str(min=1, max=128, description="Checkout's HMAC-SHA256 hex"))
PAYMENTS = Query(status=Str(choices=payments.STATUSES, required=False),
                 provider=Str(choices=payments.PROVIDERS, required=False),
                 method=Str(max=32, required=False, description="card, upi, netbanking, wallet, ..."),
                 userId=Id(required=False), courseId=Id(required=False),
                 flagged=Bool(required=False, description="Only duplicates and open disputes"),
                 sort=Str(choices=money.SORTS, default="newest"), **WHEN, **FORMAT, **PAGE)
REFUND = Obj(amount=Int(min=1, max=10 ** 12, required=False, description="Paise; default: all that is left"),
             reason=Str(min=1, max=500))


def verify(db, settings, razorpay, user, body, actor):
    payment, enrollment = checkout.confirm(db, razorpay, user["id"], body["razorpay_order_id"],
                                           body["razorpay_payment_id"], body["razorpay_signature"], actor,
                                           Terms.of(settings))
    return {"payment": payments.public(payment), "enrollment": enrollments.public(enrollment)}


def webhook(db, settings, actor):
    request = bottle.request
    # Headers straight from the environ: Bottle's get_header raises on bytes that are not UTF-8.
    header = request.environ.get
    outcome = deliveries.receive(db, settings.razorpay_webhook_secrets,
                                 read_body(request, settings.max_body_bytes), header("HTTP_X_RAZORPAY_SIGNATURE"),
                                 header("HTTP_X_RAZORPAY_EVENT_ID"), actor, Terms.of(settings))
    return {"outcome": outcome}


def list_payments(db, query, actor):
    return filtered_list("payments", db, query, actor, money.payment_list, money.payments_csv)


def show_payment(db, id):
    payment, enrollment, order = money.one(db, id)
    return {"payment": payment, "enrollment": enrollment, "order": order}


def refund_payment(db, settings, razorpay, id, body, actor):
    payment, enrollment = refunds.refund(db, razorpay, id, body.get("amount"), body["reason"], actor,
                                         Terms.of(settings))
    return {"payment": payments.detail(payment), "enrollment": enrollments.public(enrollment)}

