"""The HTTP conventions every route shares: envelope, headers, limits, logs, CORS."""
import json
import logging

import pytest

from support.app import app_with, browser

SIGNUP = "/api/auth/signup"


def test_unknown_api_paths_and_methods_answer_json(client):
    response = client.get("/api/nope", status=404)
    assert response.json == {"ok": False, "error": {"code": "not_found", "message": "No such resource"}}
    response = client.delete("/api/health", status=405)
    assert response.json["error"]["code"] == "method_not_allowed"
    assert response.content_type == "application/json"


def test_pages_outside_the_api_get_an_html_error_with_a_strict_policy(client):
    response = client.get("/nowhere", status=404)
    assert response.content_type == "text/html"
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    assert "Traceback" not in response.text


def test_every_response_carries_request_id_and_security_headers(client):
    response = client.get("/api/health")
    assert len(response.headers["X-Request-Id"]) >= 8
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"]
    assert response.headers["Cache-Control"] == "no-store"
    kept = client.get("/api/health", headers={"X-Request-Id": "edge-1234abcd"})
    assert kept.headers["X-Request-Id"] == "edge-1234abcd"
    replaced = client.get("/api/health", headers={"X-Request-Id": "bad id\nwith newline"})
    assert replaced.headers["X-Request-Id"] != "bad id\nwith newline"


def test_one_json_log_line_per_request_without_the_query_string(client, caplog):
    with caplog.at_level(logging.INFO, logger="lms.access"):
        response = client.get("/api/health?token=secret-value")
    records = [r for r in caplog.records if r.name == "lms.access"]
    assert len(records) == 1
    fields = records[0].fields
    assert fields["requestId"] == response.headers["X-Request-Id"]
    assert (fields["method"], fields["path"], fields["status"]) == ("GET", "/api/health", 200)
    assert fields["ms"] >= 0 and "userId" in fields
    assert "secret-value" not in json.dumps(fields)


def test_malformed_json_is_400(client):
    response = client.post(SIGNUP, "{not json", content_type="application/json", status=400)
    assert response.json["error"]["code"] == "invalid_json"


@pytest.mark.parametrize("body", ["[1, 2]", '"text"', "NaN", ""])
def test_a_body_that_is_not_a_json_object_is_400(client, body):
    response = client.post(SIGNUP, body, content_type="application/json", status=400)
    assert response.json["ok"] is False


def test_a_body_that_is_not_json_is_415(client):
    response = client.post(SIGNUP, "name=a&email=b", content_type="application/x-www-form-urlencoded",
                           status=415)
    assert response.json["error"]["code"] == "unsupported_media_type"


def test_an_oversized_body_is_413_before_it_is_read(make_settings):
    with app_with(make_settings, LMS_MAX_BODY_BYTES="2048") as (runtime, app):
        client = browser(app)
        big = {"name": "x" * 5000, "email": "a@example.com", "password": "password1"}
        response = client.post_json(SIGNUP, big, status=413)
        assert response.json["error"]["code"] == "payload_too_large"
        assert runtime.db.users.count_documents({}) == 0


def test_validation_errors_name_each_field(client, db):
    response = client.post_json(SIGNUP, {"email": {"$ne": None}, "name": "", "password": 12345678},
                                status=400)
    error = response.json["error"]
    assert error["code"] == "validation_error"
    assert set(error["fields"]) == {"email", "name", "password"}
    assert db.users.count_documents({}) == 0


def test_unexpected_errors_are_a_bare_500_and_logged_with_the_request_id(client, db, caplog):
    # A failure nobody planned for: the code is real, the stored data is broken.
    client.post_json(SIGNUP, {"name": "Ann", "email": "ann@example.com", "password": "ann-s-password"})
    db.users.update_one({"email": "ann@example.com"}, {"$unset": {"createdAt": ""}})
    with caplog.at_level(logging.ERROR, logger="lms.web"):
        response = client.get("/api/user/me", status=500)
    assert response.json == {"ok": False, "error": {"code": "internal_error", "message": "Internal server error"}}
    assert "Traceback" not in response.text and "createdAt" not in response.text
    logged = [r for r in caplog.records if r.name == "lms.web"]
    assert logged and response.headers["X-Request-Id"] in logged[0].getMessage()


def test_cors_only_for_configured_origins(make_settings):
    with app_with(make_settings, LMS_CORS_ORIGINS="https://app.example.com") as (runtime, app):
        client = browser(app)
        allowed = client.get("/api/health", headers={"Origin": "https://app.example.com"})
        assert allowed.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
        assert allowed.headers["Access-Control-Allow-Credentials"] == "true"
        preflight = client.options("/api/auth/login", headers={
            "Origin": "https://app.example.com", "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-xsrf-token"}, status=204)
        assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
        assert "X-XSRF-TOKEN" in preflight.headers["Access-Control-Allow-Headers"]
        other = client.get("/api/health", headers={"Origin": "https://evil.example.com"})
        assert "Access-Control-Allow-Origin" not in other.headers
        client.options("/api/auth/login", headers={
            "Origin": "https://evil.example.com", "Access-Control-Request-Method": "POST"}, status=405)
