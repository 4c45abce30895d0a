"""The yardstick: a bare Bottle app on the same gevent server (lms.web.server.Server, TCP_NODELAY),
answering a fixed JSON body, optionally after the same database reads as the request it stands for.

    python bench/bare_app.py PORT BODY_FILE [READS_FILE]

READS_FILE (MongoDB extended JSON, ``bson.json_util``) is ``{"uri": ..., "reads": [[collection,
"find", filter, {projection, sort, limit}] or [collection, "aggregate", pipeline], ...]}``: each
request runs them in order, one round trip each, reading every document, then answers BODY_FILE.
"""
from gevent import monkey

monkey.patch_all()

import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import bottle  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from lms.web.server import Server  # noqa: E402

body = Path(sys.argv[2]).read_bytes()
reads = []
if len(sys.argv) > 3:
    import pymongo
    from bson import json_util
    spec = json_util.loads(Path(sys.argv[3]).read_text())
    db = pymongo.MongoClient(spec["uri"], tz_aware=True).get_default_database()
    reads = spec["reads"]
app = bottle.Bottle()


def read(collection, kind, query, options=None):
    if kind == "aggregate":
        return list(db[collection].aggregate(query))
    options = options or {}
    cursor = db[collection].find(query, options.get("projection"), limit=options.get("limit", 0))
    if options.get("sort"):
        cursor = cursor.sort(list(options["sort"].items()))
    return list(cursor)


@app.get("/<path:path>")
def answer(path):
    for step in reads:
        read(*step)
    bottle.response.content_type = "application/json"
    return body


Server(("127.0.0.1", int(sys.argv[1])), app).serve_forever()
