"""The app in this process, through its real WSGI stack: browser-like clients of it."""
import webtest

SECRET = "test-secret-key-0123456789-abcdefghijklmnop"  # LMS_SECRET_KEY of every test service


def browser(app):
    """A webtest client that behaves like a browser on https://lms.test (Secure cookies work)."""
    return webtest.TestApp(app, extra_environ={"wsgi.url_scheme": "https", "HTTP_HOST": "lms.test",
                                               "REMOTE_ADDR": "203.0.113.7"})
