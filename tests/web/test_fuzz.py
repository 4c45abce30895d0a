"""Fuzzing the whole API from its own OpenAPI description (schemathesis, fixed seed).

Every operation of the route table gets generated requests, valid and invalid, as an anonymous
visitor, a student and an admin (cookies plus the CSRF header, as a browser sends them). No answer
may be a 5xx, and every answer must have a status, schema, content type and headers the description
declares for it.
"""
import re

import hypothesis
import pytest
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (content_type_conformance, response_headers_conformance,
                                              response_schema_conformance, status_code_conformance)

from lms.routes import ROUTES
from support.doubles.razorpay import RazorpayDouble
from support.factories import create_course, create_user, sign_in

EXAMPLES = 12
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance, content_type_conformance,
          response_headers_conformance]


@pytest.fixture
def settings(make_settings):
    """Every integration configured (Razorpay against its loopback double), so that no route
    answers 503 for want of configuration."""
    with RazorpayDouble() as razorpay:
        yield make_settings(RAZORPAY_KEY_ID=razorpay.key_id, RAZORPAY_KEY_SECRET=razorpay.key_secret,
                            RAZORPAY_WEBHOOK_SECRET="fuzz-webhook-secret", RAZORPAY_API_URL=razorpay.url)


@pytest.fixture
def sessions(app, db):
    create_course(db, price=0)
    headers = {"anonymous": {}}
    for role in ("student", "admin"):
        client = sign_in(app, create_user(db, role))
        cookies = "; ".join(f"{name}={value}" for name, value in client.cookies.items())
        headers[role] = {"Cookie": cookies, "X-XSRF-TOKEN": client.cookies["XSRF-TOKEN"]}
    return headers


@pytest.mark.parametrize("method, path", [(r.method, re.sub(r"<(\w+)[^>]*>", r"{\1}", r.path))
                                          for r in ROUTES], ids=lambda v: v)
def test_no_input_makes_the_api_fail_or_break_its_description(app, sessions, method, path):
    operation = schemathesis.openapi.from_wsgi("/api/openapi.json", app)[path][method]

    @hypothesis.given(case=operation.as_strategy())
    @hypothesis.settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
                         suppress_health_check=list(hypothesis.HealthCheck))
    def fuzz(case):
        for headers in sessions.values():
            case.call_and_validate(headers={**(case.headers or {}), **headers}, checks=CHECKS)

    fuzz()
