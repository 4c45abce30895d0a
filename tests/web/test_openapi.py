"""The API description as outside tools read it: it validates as served, a TypeScript client
generated from it type-checks strictly (and stops type-checking when a response loses its
type), and it declares the CSRF header on exactly the operations that check it."""
import copy
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from openapi_spec_validator import validate

from lms.routes import ROUTES
from lms.web.guard import UNSAFE_METHODS

NODE = Path(__file__).resolve().parent / "node"
TOOLS = NODE / "node_modules" / ".bin"
needs_typescript = pytest.mark.skipif(
    not (TOOLS / "tsc").exists(),
    reason="TypeScript tools not installed: npm ci --prefix tests/web/node (./run.sh test does it where npm is)")


def test_the_served_document_is_valid_openapi_3_1(client):
    served = client.get("/api/openapi.json")
    document = served.json
    assert "ok" not in document and document["openapi"] == "3.1.0"
    validate(document)


def test_every_shape_is_one_component_that_responses_refer_to(client):
    document = client.get("/api/openapi.json").json
    text = json.dumps(document["paths"])
    for name in ("User", "Course", "CourseDetail", "Lesson", "Enrollment", "Progress", "Submission", "Certificate",
                 "PublicCertificate", "Payment", "Notification", "AuditEntry", "CoursePage", "Error"):
        assert name in document["components"]["schemas"]
    for name in ("User", "Enrollment", "Submission", "Certificate", "CoursePage", "Error"):
        assert f'"#/components/schemas/{name}"' in text, name
    assert text.count('"#/components/schemas/Error"') > 40  # one error model, referred to everywhere


def _generate(document, folder):
    source = folder / "openapi.json"
    source.write_text(json.dumps(document))
    subprocess.run([str(TOOLS / "openapi-typescript"), str(source), "-o", str(folder / "api.d.ts")],
                   check=True, capture_output=True, text=True, timeout=120)
    shutil.copy(NODE / "usage.ts", folder / "usage.ts")
    return subprocess.run([str(TOOLS / "tsc"), "--strict", "--noEmit", "--target", "es2020", "--module", "es2020",
                           "--moduleResolution", "bundler", str(folder / "usage.ts")],
                          capture_output=True, text=True, timeout=180)


@needs_typescript
def test_a_generated_typescript_client_type_checks_strictly(client, tmp_path):
    checked = _generate(client.get("/api/openapi.json").json, tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr


@needs_typescript
def test_the_typescript_check_fails_when_a_response_loses_its_type(client, tmp_path):
    document = copy.deepcopy(client.get("/api/openapi.json").json)
    answer = document["paths"]["/api/enroll"]["post"]["responses"]["201"]["content"]["application/json"]
    answer["schema"] = {"type": "object", "properties": {"ok": {"const": True}}}  # the bare envelope of old
    checked = _generate(document, tmp_path)
    assert checked.returncode != 0 and "enrollment" in checked.stdout


def _path(route):
    return re.sub(r"<(\w+)(?::[^>]*)?>", r"{\1}", route.path)


def test_the_csrf_header_is_declared_on_exactly_the_operations_that_check_it(client, signed_in):
    document = client.get("/api/openapi.json").json
    admin = signed_in("admin")
    token = admin.extra_environ.pop("HTTP_X_XSRF_TOKEN")  # cookies, but no header
    try:
        for route in ROUTES:
            operation = document["paths"][_path(route)][route.method.lower()]
            declared = any(p["in"] == "header" and p["name"] == "X-XSRF-TOKEN" for p in operation.get("parameters", []))
            url = "https://lms.test" + re.sub(r"<(\w+)(?::[^>]*)?>", "x" * 24, route.path)
            answer = admin.request(url, method=route.method, body=b"{}", headers={"Content-Type": "application/json"},
                                   expect_errors=True) if route.method in UNSAFE_METHODS else None
            checked = bool(answer) and answer.status_int == 403 and answer.json["error"]["code"] == "csrf_failed"
            assert declared == checked, f"{route.method} {route.path}: declared {declared}, checked {checked}"
    finally:
        admin.extra_environ["HTTP_X_XSRF_TOKEN"] = token


def test_the_description_is_built_once_per_process_and_served_as_built(client, runtime, settings):
    from support.app import adapters
    assert adapters(settings).api_description is runtime.api_description  # another runtime, the same document
    served = client.get("/api/openapi.json")
    assert served.content_type == "application/json" and served.body == runtime.api_text.encode()
    assert served.json == runtime.api_description
