"""lms: run the service.

    python lms.py [serve]            the web server (and, unless LMS_WORKER=0, the worker)
    python lms.py worker             the worker only: certificate jobs and periodic tasks
    python lms.py create-admin --email E --name N [--password P]   (prompts when omitted)
    python lms.py seed-demo          a few realistic courses to click through
    python lms.py verify-credential FILE_OR_JWT --jwks URL_OR_FILE   check a credential offline
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
                 on_stop=stops)


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


VERBS = {"serve": serve, "worker": worker, "create-admin": create_admin, "seed-demo": seed_demo}


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
    check = verbs.add_parser("verify-credential", help="verify a credential offline")
    check.add_argument("credential", help="a VC-JWT, a file holding one, or the credential JSON")
    check.add_argument("--jwks", required=True, help="URL or file of the issuer's JWKS")
    args = parser.parse_args(argv)
    args.verb = args.verb or "serve"
    return args


def verify_credential(args):
    """Check a credential offline: the signature against a published key set; prints the claims."""
    import json
    import urllib.request
    from pathlib import Path

    from lms.certificates import badges as credentials

    def read(source):
        if source.startswith(("http://", "https://")):
            with urllib.request.urlopen(source, timeout=10) as response:
                return response.read().decode()
        try:
            return Path(source).read_text()
        except OSError:  # not a file: the JWT itself (often longer than a file name may be)
            return source
    token = read(args.credential).strip()
    if token.startswith("{"):  # the JSON answer of /api/certificates/:certId/credential
        token = json.loads(token)["jwt"]
    try:
        claims, expired = credentials.verify(token, json.loads(read(args.jwks)))
    except (credentials.CredentialError, ValueError, KeyError, OSError) as exc:
        print(f"INVALID: {exc}", file=sys.stderr)
        return 1
    subject = claims["credentialSubject"]
    print(f"{'EXPIRED' if expired else 'VALID'}: {subject['name']} completed "
          f"{subject['achievement']['name']}, issued by {claims['issuer']['name']} "
          f"on {claims['validFrom'][:10]}" + (f", valid until {claims['validUntil'][:10]}" if claims.get("validUntil") else ""))
    print(f"status (may have been revoked since): {claims['credentialStatus']['id']}")
    print(json.dumps(claims, indent=2))
    return 2 if expired else 0


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
