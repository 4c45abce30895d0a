"""The app in this process, through its real WSGI stack: browser-like clients, an app on
settings of a test's choosing, and the adapters a process opens."""
from contextlib import contextmanager

import webtest

from lms.runtime import Runtime
from lms.web.app import create_app
from support.conformance import Conformance

SECRET = "test-secret-key-0123456789-abcdefghijklmnop"  # LMS_SECRET_KEY of every test service


def browser(app):
    """A webtest client that behaves like a browser on https://lms.test (Secure cookies work)."""
    return webtest.TestApp(app, extra_environ={"wsgi.url_scheme": "https", "HTTP_HOST": "lms.test",
                                               "REMOTE_ADDR": "203.0.113.7"})


def post_bytes(client, path, body, content_type, status):
    """POST ``body`` exactly as given (webtest's post() would re-encode a multipart one)."""
    return client.request(f"https://lms.test{path}", method="POST", body=body,
                          headers={"Content-Type": content_type}, status=status)


def served(runtime):
    """The app of ``runtime`` as the tests talk to it: every JSON answer is checked against the
    API description (``support.conformance``)."""
    return Conformance(create_app(runtime), runtime.api_description)


@contextmanager
def app_with(make_settings, **env):
    """(runtime, app) of a service whose environment ``env`` overrides, closed afterwards; for
    a test that needs settings other than its fixtures'."""
    runtime = Runtime.open(make_settings(**env))
    try:
        yield runtime, served(runtime)
    finally:
        runtime.close()


def adapters(settings):
    """What a process opens for ``settings`` (storage, mailer, urls, renderer...), without a database."""
    return Runtime(settings, None, None)
