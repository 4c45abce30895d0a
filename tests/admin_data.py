"""Documents the staff reports read, in the shapes their owners write them, for direct inserts.

The tests create what they can through the real routes (sign-up, courses, enrolling with a
simulated payment, completing lessons); these builders add what those routes cannot make on a
chosen day (past refunds, certificates in every status, thousands of rows for the benchmark).
Each returns a plain document for ``insert_one``/``insert_many``.
"""
from datetime import datetime, time, timedelta, timezone

from lms.certificates.records import new_cert_id
from lms.db import new_id

DUMMY_HASH = "$2b$04$" + "x" * 53  # matches no password: these users cannot sign in


def midnight(day_offset=0, now=None):
    """UTC midnight ``day_offset`` days from today."""
    today = (now or datetime.now(timezone.utc)).date()
    return datetime.combine(today, time(), tzinfo=timezone.utc) + timedelta(days=day_offset)


def student(n, *, name=None, email=None, at=None, role="student", disabled=False):
    at = at or datetime.now(timezone.utc)
    _id = new_id()
    return {"_id": _id, "name": name or f"Student {n}", "email": email or f"learner-{_id}@example.net",
            "passwordHash": DUMMY_HASH, "role": role, "disabled": disabled, "createdAt": at, "updatedAt": at}


def enrollment(user_id, course_id, *, at, status="active", completed=None, lessons=2, payment_id=None):
    done = lessons if completed else 0
    return {"_id": new_id(), "userId": user_id, "courseId": course_id, "status": status,
            "paymentId": payment_id, "progress": 100 * done // lessons, "completedLessons": done,
            "totalLessons": lessons, "enrolledAt": at,
            "activatedAt": at if status in ("active", "refunded") else None,
            "completedAt": completed, "updatedAt": completed or at}


def payment(user_id, course_id, enrollment_id, *, amount, currency="INR", status="captured", at,
            refunded=None, provider="razorpay"):
    history = [{"status": "created", "at": at}]
    doc = {"_id": new_id(), "provider": provider, "orderId": f"order_{new_id()}",
           "providerPaymentId": f"pay_{new_id()}", "userId": user_id, "courseId": course_id,
           "enrollmentId": enrollment_id, "amount": amount, "currency": currency, "status": status,
           "rawResponse": None, "createdAt": at, "updatedAt": refunded or at,
           "capturedAt": None, "refundedAt": None, "failedAt": None}
    if status in ("captured", "refunded"):
        doc["capturedAt"] = at
        history.append({"status": "captured", "at": at})
    if status == "refunded":
        doc["refundedAt"] = refunded
        history.append({"status": "refunded", "at": refunded})
    if status == "failed":
        doc["failedAt"] = at
        history.append({"status": "failed", "at": at})
    doc["history"] = history
    return doc


def certificate(user_id, course_id, *, status, at, student_name="A Student", course_title="A Course"):
    issued = at if status in ("active", "revoked") else None
    return {"_id": new_id(), "certId": new_cert_id("CERT"), "userId": user_id, "courseId": course_id,
            "studentName": student_name, "courseTitle": course_title, "status": status,
            "attempts": 1 if status != "pending" else 0, "nextAttemptAt": at, "createdAt": at,
            "issuedAt": issued, "pdfUrl": None, "hash": None, "emailStatus": None,
            "revokedAt": at if status == "revoked" else None}
