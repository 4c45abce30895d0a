"""The yardstick: a bare Bottle app on the same gevent server (lms.web.server.Server, TCP_NODELAY),
answering a fixed JSON body. ``python bench/bare_app.py PORT BODY_FILE``"""
from gevent import monkey

monkey.patch_all()

import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import bottle  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from lms.web.server import Server  # noqa: E402

body = Path(sys.argv[2]).read_bytes()
app = bottle.Bottle()


@app.get("/<path:path>")
def answer(path):
    bottle.response.content_type = "application/json"
    return body


Server(("127.0.0.1", int(sys.argv[1])), app).serve_forever()
