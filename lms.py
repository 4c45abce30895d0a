"""lms: run the service.

    python lms.py [serve]            the web server (and, unless LMS_WORKER=0, the worker)
    python lms.py worker             the worker only: certificate jobs and periodic tasks
    python lms.py create-admin --email E --name N [--password P]   (prompts when omitted)
    python lms.py seed-demo          a few realistic courses to click through
    python lms.py rebuild-stats      recount the analytics' day counters from the data
    python lms.py verify-credential FILE_OR_JWT --jwks URL_OR_FILE [--offline]   check a credential
"""
from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import getpass  # noqa: E402
import logging  # noqa: E402
import sys  # noqa: E402


from lms import logs  # noqa: E402
from lms.config import ConfigError, Settings  # noqa: E402
from lms.db import DatabaseUnavailable  # noqa: E402
from lms.errors import LMSError  # noqa: E402
from lms.web.server import StartupError  # noqa: E402

log = logging.getLogger("lms")


def start_worker(runtime):
    from lms.worker import runner, schedule
    worker = runner.Worker(runtime.db, runtime.settings.worker_concurrency)
    runtime.worker = schedule.schedule(worker, runtime).start()
    return runtime.worker


def serve(runtime, args):
    from lms.web import server
    from lms.web.app import create_app
    if runtime.settings.worker:
        start_worker(runtime)
    settings = runtime.settings
    stops = [runtime.worker.stop] if runtime.worker else []
    server.serve(create_app(runtime), settings.host, settings.port, on_stopping=[runtime.events.close],
                 on_stop=stops, header_timeout=settings.header_timeout, body_timeout=settings.body_timeout,
                 keepalive_timeout=settings.keepalive_timeout, max_connections=settings.max_connections)


def worker(runtime, args):
    import signal
    import gevent.event
    start_worker(runtime)
    stopping = gevent.event.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        gevent.signal_handler(signum, stopping.set)
    log.info("worker %s running", runtime.worker.id)
    stopping.wait()
    runtime.worker.stop()


def create_admin(runtime, args):
    from lms import schema
    from lms.accounts import passwords, users
    from lms.audit import SYSTEM
    password = args.password or getpass.getpass("Password for the new admin: ")
    fields = schema.Obj(name=schema.Str(min=1, max=100), email=schema.Email(),
                        password=schema.Password()).validate(
        {"name": args.name, "email": args.email, "password": password})
    passwords.judge(fields["password"], fields["email"])
    user = users.create(runtime.db, **fields, role="admin", rounds=runtime.settings.bcrypt_rounds,
                        actor=SYSTEM, verified=True)  # the operator gave the address
    print(f"created admin {user['email']} ({user['_id']})")


def seed_demo(runtime, args):
    from lms.learning import demo
    created = demo.seed(runtime.db)
    print(f"created {len(created)} demo courses: {', '.join(created)}" if created
          else "the demo courses are already there")


def rebuild_stats(runtime, args):
    import time
    from lms.reports import stats
    started = time.perf_counter()
    done = stats.rebuild(runtime.db)
    print(f"rebuilt the analytics counters from the data: days written {done['days']}, "
          f"days removed {done['removed']} (no events left on them), {time.perf_counter() - started:.1f} s")


VERBS = {"serve": serve, "worker": worker, "create-admin": create_admin, "seed-demo": seed_demo,
         "rebuild-stats": rebuild_stats}


def parse(argv):
    parser = argparse.ArgumentParser(prog="lms.py", description=__doc__.split("\n")[0])
    verbs = parser.add_subparsers(dest="verb")
    verbs.add_parser("serve", help="serve HTTP (default)")
    verbs.add_parser("worker", help="run only the worker")
    admin = verbs.add_parser("create-admin", help="create an admin account")
    admin.add_argument("--email", required=True)
    admin.add_argument("--name", default="Administrator")
    admin.add_argument("--password", help="prompted for when omitted")
    verbs.add_parser("seed-demo", help="add demo courses (skips those already there)")
    verbs.add_parser("rebuild-stats", help="recount the analytics' day counters from the data")
    check = verbs.add_parser("verify-credential", help="verify a credential offline")
    check.add_argument("credential", help="a VC-JWT, a file holding one, the credential JSON, or the "
                                          "certificate's PDF or PNG")
    check.add_argument("--jwks", required=True, help="URL or file of the issuer's JWKS")
    check.add_argument("--offline", action="store_true", help="skip the status check (revocation)")
    args = parser.parse_args(argv)
    args.verb = args.verb or "serve"
    return args


EXIT = {"VALID": 0, "INVALID": 1, "EXPIRED": 2, "REVOKED": 3, "UNKNOWN-STATUS": 4}


def verify_credential(args):
    """Check a credential: the signature against a published key set, then (unless ``--offline``)
    its status list entry (``credentialStatus.id``). Prints VALID, EXPIRED, REVOKED, UNKNOWN-STATUS
    (the status could not be read) or INVALID, and exits 0 only for VALID (see ``EXIT``)."""
    import json
    import urllib.request
    from pathlib import Path

    from lms.certificates import badges as credentials, baking

    def read(source):
        if source.startswith(("http://", "https://")):
            with urllib.request.urlopen(source, timeout=10) as response:
                return response.read()
        try:
            return Path(source).read_bytes()
        except OSError:  # not a file: the JWT itself (often longer than a file name may be)
            return source.encode()
    try:
        data = read(args.credential)
        if data.startswith((baking.PNG_SIGNATURE, b"%PDF-")):
            token = baking.extract(data)  # the credential baked into the certificate's PNG or PDF
        else:
            token = data.decode().strip()
            if token.startswith("{"):  # the JSON answer of /api/certificates/:certId/credential
                token = json.loads(token)["jwt"]
        claims, expired = credentials.verify(token, json.loads(read(args.jwks)))
    except (credentials.CredentialError, ValueError, KeyError, OSError) as exc:
        print(f"INVALID: {exc}", file=sys.stderr)
        return EXIT["INVALID"]
    verdict, status_line = "EXPIRED" if expired else "VALID", ""
    status_url = claims.get("credentialStatus", {}).get("id")
    if args.offline:
        status_line = f"status not checked (--offline): it may have been revoked since; see {status_url}"
    else:
        try:
            with urllib.request.urlopen(status_url, timeout=10) as response:
                current = json.load(response)["status"]
        except Exception as exc:  # noqa: BLE001  any failure to learn the status leaves it unknown
            current = None
            status_line = f"status unknown: {status_url} could not be read ({type(exc).__name__}: {exc})"
        if current == "revoked" or (current in ("active", "expired") and verdict == "EXPIRED"):
            verdict = "REVOKED" if current == "revoked" else "EXPIRED"  # a revocation says the most
        else:
            verdict = {"active": "VALID", "expired": "EXPIRED"}.get(current, "UNKNOWN-STATUS")
        status_line = status_line or f"status {current} at {status_url}"
    subject = claims["credentialSubject"]
    print(f"{verdict}: {subject['name']} completed "
          f"{subject['achievement']['name']}, issued by {claims['issuer']['name']} "
          f"on {claims['validFrom'][:10]}" + (f", valid until {claims['validUntil'][:10]}" if claims.get("validUntil") else ""))
    print(status_line)
    print(json.dumps(claims, indent=2))
    return EXIT[verdict]


def main(argv=None):
    args = parse(sys.argv[1:] if argv is None else argv)
    if args.verb == "verify-credential":
        return verify_credential(args)
    from lms.runtime import Runtime
    try:
        settings = Settings.from_env()
        logs.configure(settings.log_level)
        logs.report_errors(settings)
        runtime = Runtime.open(settings)
    except (ConfigError, DatabaseUnavailable) as exc:
        print(f"lms: error: {exc}", file=sys.stderr)
        return 2
    try:
        VERBS[args.verb](runtime, args)
    except (StartupError, LMSError) as exc:
        details = "".join(f"\n  {k}: {v}" for k, v in (getattr(exc, "fields", None) or {}).items())
        print(f"lms: error: {exc}{details}", file=sys.stderr)
        return 1
    finally:
        runtime.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
