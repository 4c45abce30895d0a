"""The README and the API description keep step with the code."""
import re

from lms.config import VARIABLES
from lms.routes import ROUTES
from support import ROOT
from support.app import browser

README = (ROOT / "README.md").read_text()


def test_readme_documents_every_setting_and_nothing_else():
    table = set(re.findall(r"^\| `([A-Z0-9_]+)`", README, flags=re.M))
    assert table == set(VARIABLES)


def test_readme_starts_with_the_two_commands():
    head = README[:1500]
    assert re.search(r"^\./run\.sh\s+(#.*)?$", head, flags=re.M)
    assert re.search(r"^\./run\.sh test\s+(#.*)?$", head, flags=re.M)


def test_openapi_describes_every_route(app):
    spec = browser(app).get("/api/openapi.json").json
    described = {(method.upper(), path) for path, ops in spec["paths"].items() for method in ops}
    expected = {(r.method, re.sub(r"<(\w+)[^>]*>", r"{\1}", r.path)) for r in ROUTES}
    assert described == expected
    for route in ROUTES:
        op = spec["paths"][re.sub(r"<(\w+)[^>]*>", r"{\1}", route.path)][route.method.lower()]
        assert op["x-who"] == route.who
        assert ("requestBody" in op) == (route.body is not None or route.upload is not None)
