"""The receipt a student is mailed when their payment is captured (``views/mail/payment_receipt``).

It names the course, the amount in the currency's units (rupees and paise: ``₹499.00 INR``), the
date, Razorpay's payment and order ids and the method, and is signed with the organisation's
name and address (``LMS_ORG_NAME``, ``LMS_ORG_ADDRESS``). It is queued like every mail, so a mail
server that is down delays it and never the payment.
"""
from ..adapters.mail import messages, queue as mail

DECIMALS = {"BHD": 3, "JPY": 0, "KRW": 0, "KWD": 3, "OMR": 3, "VND": 0}  # else two (paise, cents)
SYMBOLS = {"INR": "₹", "USD": "$", "EUR": "€", "GBP": "£"}


def money(amount, currency):
    """``money(49900, "INR")`` -> ``₹499.00 INR``."""
    places = DECIMALS.get(currency, 2)
    whole, part = divmod(amount, 10 ** places)
    return f"{SYMBOLS.get(currency, '')}{whole:,}{f'.{part:0{places}d}' if places else ''} {currency}"


def send(db, row, terms):
    """Queue the receipt of a captured payment to its student; the mail's id (None when the
    student's account is gone)."""
    user = db.users.find_one({"_id": row["userId"]}, {"name": 1, "email": 1})
    if user is None:
        return None
    course = db.courses.find_one({"_id": row["courseId"]}, {"title": 1}) or {}
    title = " ".join((course.get("title") or "Your course").split())  # one line: it is in the subject
    message = messages.render(
        "payment_receipt", name=user["name"], course=title, amount=money(row["amount"], row["currency"]),
        date=row["capturedAt"].strftime("%d %B %Y, %H:%M UTC"), payment_id=row["providerPaymentId"],
        order_id=row["orderId"], method=row.get("method") or "-", org=terms.org_name, address=terms.org_address)
    return mail.enqueue(db, user["email"], message, kind="receipt")
