"""A frontend on its own host name, in a real browser: headless Chromium loads a page from
app.lms.test that uses the API on api.lms.test exactly as README "Connecting a frontend" says
(cookies on the parent domain for the CSRF token, CORS with credentials, the token in a header),
from sign-up to the certificate arriving over the event stream, its verify page, a refresh and
the logout."""
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from lms.db import free_port
from support.factories import create_course

NODE = Path(__file__).resolve().parent / "node"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    not (CHROMIUM and (NODE / "node_modules" / "playwright-core").exists()),
    reason="needs Chromium (apt-get install chromium) and playwright-core (npm ci --prefix tests/web/node); "
           ".ci/run and ./run.sh test install both")


@pytest.mark.parametrize("source", ["cookie", "header"])
def test_a_spa_on_a_sibling_host_signs_up_learns_gets_its_certificate_live_refreshes_and_logs_out(
        live_server, db, source):
    """``cookie``: LMS_COOKIE_DOMAIN shares the XSRF-TOKEN cookie with the app's host, which reads
    it as axios and Angular do. ``header``: no cookie domain; the page keeps the token the API
    sends it (the X-XSRF-TOKEN header, csrfToken in bodies), which works in any layout."""
    api_port, app_port = free_port(), free_port()
    api, app = f"http://api.lms.test:{api_port}", f"http://app.lms.test:{app_port}"
    shared = {"LMS_COOKIE_DOMAIN": "lms.test"} if source == "cookie" else {}
    live_server(PORT=str(api_port), LMS_WORKER="1", LMS_PUBLIC_URL=api, LMS_FRONTEND_URL=app,
                LMS_CORS_ORIGINS=app, LMS_COOKIE_SECURE="0", **shared)
    course = create_course(db, price=0, title="Data Structures")
    run = subprocess.run(["node", str(NODE / "frontend.mjs"), api, course["_id"], str(app_port), source],
                         cwd=NODE, capture_output=True, text=True, timeout=120, env={"CHROMIUM": CHROMIUM,
                                                                                     "PATH": "/usr/bin:/bin"})
    assert run.returncode == 0, run.stderr
    seen = json.loads(run.stdout.strip().splitlines()[-1])

    assert seen["session"] == {"status": 200, "user": None, "hasToken": True}
    assert seen["signup"] == {"status": 201, "cookieReadable": source == "cookie", "headerReadable": True}
    assert seen["enroll"] == 201 and seen["lessons"] == [200, 200]
    assert seen["event"] and seen["event"]["link"].startswith(f"{api}/verify/CERT-")
    assert "Valid certificate" in seen["verifyPage"] and "Data Structures" in seen["verifyPage"]
    assert seen["refresh"]["status"] == 200 and seen["refresh"]["rotated"] and seen["refresh"]["headerFollows"]
    assert seen["refresh"]["cookieFollows"] == (source == "cookie")  # a host-only cookie stays unreadable
    assert seen["meAfterRefresh"] == 200
    assert (seen["logout"], seen["meAfterLogout"]) == (200, 401)
    assert seen["withoutHeader"] == 403, "an unsafe request without the CSRF header is refused"
    assert not [m for m in seen["consoleErrors"] if "CORS" in m], seen["consoleErrors"]
    user = db.users.find_one({"name": "Priya Sharma"})
    assert db.certificates.find_one({"userId": user["_id"], "status": "active"})
    assert db.sessions.count_documents({"userId": user["_id"], "revokedAt": None}) == 0
