"""How the payment tests drive and observe payments: signed webhook deliveries, in process and
over real sockets, racing requests, and snapshots of what a payment can change. (A student at
Checkout and a paid enrollment: support/factories.py.)"""
import json
import threading
import urllib.error
import urllib.request

WEBHOOK, VERIFY, ENROLL = "/api/payments/webhook", "/api/payments/verify", "/api/enroll"


def deliver(client, delivery, status=200, **headers):
    body, signed = delivery
    response = client.post(WEBHOOK, body, headers={**signed, **headers}, status=status)
    return response.json["outcome"] if status == 200 else response.json["error"]["code"]


def state(db):
    """Everything a payment can change, to compare before and after."""
    return {name: list(db[name].find({}, sort=[("_id", 1)])) for name in ("payments", "enrollments")}


def audited(db, action):
    return db.auditLogs.count_documents({"action": action})


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
