"""Freshness of the public certificate answers: only final answers (active, expired, revoked) are
cached; pending and unknown ones are ``no-store``; the worker's activation and a revocation or
re-issue clear the process's cache at once; a cached answer tells downstream caches to keep it
no longer than it has left here. Measured through the public endpoint."""
import time

from lms.audit import SYSTEM
from lms.certificates import issuing, records
from lms.worker.schedule import certificate_tools
from support.certificates import drain, issue, make_due
from support.factories import create_course, create_user, issued_certificate, pending_certificate
from support.live import call


def lookup(client, cert):
    return client.get(f"/api/certificates/{cert['certId']}")


def test_a_pending_answer_is_never_stored_so_activation_shows_at_once(client, db, settings):
    cert = pending_certificate(db, settings)
    pending = lookup(client, cert)
    assert pending.json["status"] == "pending" and pending.headers["Cache-Control"] == "no-store"
    assert "ETag" not in pending.headers
    drain(db, settings)  # a worker elsewhere: it cannot clear this process's cache, and need not
    active = lookup(client, cert)
    assert active.json["status"] == "active" and active.headers["Cache-Control"] == "public, max-age=5"
    page = client.get(f"/verify/{cert['certId']}")
    assert page.headers["Cache-Control"] == "public, max-age=5"


def test_unknown_ids_are_no_store(client):
    assert client.get("/api/certificates/CERT-0000000000", status=404).headers["Cache-Control"] == "no-store"
    assert client.get("/verify/CERT-0000000000", status=404).headers["Cache-Control"] == "no-store"


def test_the_in_process_worker_clears_the_cache_when_it_activates(client, db, settings, runtime):
    cert = issued_certificate(db, settings)
    assert lookup(client, cert).json["hash"] == cert["hash"]  # cached now
    records.requeue(db, db.certificates.find_one({"_id": cert["_id"]}), SYSTEM)  # no HTTP: nothing cleared
    make_due(db, cert["certId"])
    assert issue(db, settings, records.JOBS.claim(db, "elsewhere"), "elsewhere") == "active"
    assert lookup(client, cert).json["hash"] == cert["hash"], "another process's render: cached until the TTL"

    records.requeue(db, db.certificates.find_one({"_id": cert["_id"]}), SYSTEM)
    make_due(db, cert["certId"])
    tools = certificate_tools(runtime)  # the worker of this process: it shares the cache
    assert issuing.issue(db, records.JOBS.claim(db, "here"), "here", **tools) == "active"
    assert lookup(client, cert).json["hash"] == db.certificates.find_one({"_id": cert["_id"]})["hash"]


def test_revocation_and_reissue_through_the_api_clear_the_cache(signed_in, client, db, settings):
    cert = issued_certificate(db, settings)
    assert lookup(client, cert).json["status"] == "active"
    signed_in("admin").post_json(f"/api/admin/certificates/{cert['certId']}/revoke", {"reason": "Fraud"})
    assert lookup(client, cert).json["status"] == "revoked"
    signed_in("admin").post_json(f"/api/admin/certificates/{cert['certId']}/issue", {"restore": True})
    again = lookup(client, cert)
    assert again.json["status"] == "pending" and again.headers["Cache-Control"] == "no-store"


def test_a_cached_answer_is_kept_downstream_only_for_what_it_has_left_here(client, db, settings, runtime):
    cert = issued_certificate(db, settings)
    assert lookup(client, cert).headers["Cache-Control"] == "public, max-age=5"
    [entry] = runtime.cache.entries.values()
    entry.expires -= 3.5  # 3.5 s old
    assert lookup(client, cert).headers["Cache-Control"] == "public, max-age=1"


def test_a_live_service_says_active_on_the_first_request_after_its_worker_activates(live_server, db, tmp_path):
    server = live_server(LMS_WORKER="1")
    course = create_course(db, price=0)
    auth = server.sign_in(create_user(db))
    assert call("POST", f"{server.url}/api/enroll", {"courseId": course["_id"]}, auth)[0] == 201
    for lesson in ("intro", "setup"):
        _, done, _ = call("POST", f"{server.url}/api/progress/complete-lesson",
                          {"courseId": course["_id"], "moduleId": "m1", "lessonId": lesson}, auth)
    url = f"{server.url}/api/certificates/{done['certId']}"
    seen = []
    for _ in range(600):  # at most a minute, polling every 0.1 s
        active_in_db = db.certificates.find_one({"certId": done["certId"]})["status"] == "active"
        status, body, headers = call("GET", url)
        seen.append((body["status"], headers["Cache-Control"]))
        if active_in_db:
            break
        time.sleep(0.1)
    assert seen[-1][0] == "active", "the record was active before this request: so is the answer"
    assert all(cc == "no-store" for status, cc in seen if status == "pending")
