"""How the payment tests drive and observe payments: signed webhook deliveries, in process and
over real sockets, racing requests, the worker's captures, and what a payment can change (the
rows, the student's access, the revenue, the audit trail). (A student at Checkout and a paid
enrollment: support/factories.py.)"""
import json
import threading
import urllib.error
import urllib.request

from lms.payments import Terms, capture

WEBHOOK, VERIFY, ENROLL = "/api/payments/webhook", "/api/payments/verify", "/api/enroll"
ANALYTICS, PAYMENTS = "/api/admin/analytics", "/api/admin/payments"
WORKER = "test-worker"


def deliver(client, delivery, status=200, **headers):
    body, signed = delivery
    response = client.post(WEBHOOK, body, headers={**signed, **headers}, status=status)
    return response.json["outcome"] if status == 200 else response.json["error"]["code"]


def deliver_all(client, double, *events, order=None):
    """Deliver what Razorpay queued (only ``events`` when named), in Razorpay's order or in
    ``order`` (a function of the list, e.g. ``reversed``); the outcomes."""
    queued = double.deliveries(*events)
    return [deliver(client, d) for d in (order(queued) if order else queued)]


def run_captures(runtime):
    """What the worker does with the captures the webhook queued; how many were captured."""
    return capture.run_due(runtime.db, runtime.razorpay, WORKER, Terms.of(runtime.settings))


def state(db):
    """Everything a payment can change, to compare before and after."""
    return {name: list(db[name].find({}, sort=[("_id", 1)])) for name in ("payments", "enrollments", "orders")}


def audited(db, action):
    return db.auditLogs.count_documents({"action": action})


def trail(db, prefix=("payment.", "enrollment.")):
    """The payment and enrollment actions of the audit trail, oldest first."""
    return [e["action"] for e in db.auditLogs.find({"action": {"$regex": f"^({'|'.join(prefix)})"}},
                                                   sort=[("timestamp", 1), ("_id", 1)])
            if e["action"] != "payment.order_created"]


def statuses(db):
    """Razorpay payment id -> our status, of every Razorpay payment row."""
    return {p["providerPaymentId"]: p["status"] for p in db.payments.find({"provider": "razorpay"})}


def revenue(admin, currency="INR"):
    """The analytics' net revenue in ``currency`` over the last 30 days (0 when none)."""
    rows = admin.get(ANALYTICS).json["totals"]["revenue"]
    return next((row["net"] for row in rows if row["currency"] == currency), 0)


def lesson_status(student, course):
    """200 when ``student`` may open the course's locked lesson, else 403."""
    return student.get(f"/api/courses/{course['slug']}/lessons/setup", expect_errors=True).status_int


def post_raw(url, body, headers):
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def race(*calls):
    results = []
    threads = [threading.Thread(target=lambda c=c: results.append(c())) for c in calls]
    [t.start() for t in threads]
    [t.join() for t in threads]
    return results
