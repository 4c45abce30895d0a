"""Account mail the way the worker makes it: errands run here, and the links read back out of
the queued messages; a browser holding a kept token. (Users themselves: support/factories.py.)"""
import re

from lms.accounts import emails
from support.app import browser

WORKER = "test-worker"


def run_errands(runtime):
    """Do every due account errand here, as the worker's task does; how many were done."""
    return emails.run_errands(runtime.db, runtime.urls, WORKER)


def mails_to(runtime, address, kind=None):
    """The mail queued for ``address`` (of ``kind``), oldest first, once the errands have run."""
    run_errands(runtime)
    query = {"to": address, **({"kind": kind} if kind else {})}
    return list(runtime.db.mails.find(query).sort([("createdAt", 1), ("_id", 1)]))


def link_token(mail):
    """The token of the link in ``mail``."""
    return re.search(r"token=([\w-]+)", mail["text"]).group(1)


def mailed_token(runtime, address, kind):
    """The token of the newest ``kind`` link mailed to ``address``."""
    return link_token(mails_to(runtime, address, kind)[-1])


def presenting(app, **cookies):
    """A browser that presents just ``cookies`` (a token kept from earlier) and a matching CSRF pair."""
    client = browser(app)
    for name, value in {**cookies, "XSRF-TOKEN": "pair"}.items():
        client.set_cookie(name, value)
    client.extra_environ["HTTP_X_XSRF_TOKEN"] = "pair"
    return client
