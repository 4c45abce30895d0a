"""lms: run the service.

    python lms.py [serve]            the web server (and, unless LMS_WORKER=0, the worker)
    python lms.py worker             the worker only: certificate jobs and periodic tasks
    python lms.py create-admin --email E --name N [--password P]   (prompts when omitted)
    python lms.py seed-demo          a few realistic courses to click through
"""
from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import getpass  # noqa: E402
import logging  # noqa: E402
import sys  # noqa: E402

import gevent  # noqa: E402

from lms import logs  # noqa: E402
from lms.config import ConfigError, Settings  # noqa: E402
from lms.db import DatabaseUnavailable  # noqa: E402
from lms.errors import LMSError  # noqa: E402
from lms.server import StartupError  # noqa: E402

log = logging.getLogger("lms")


def serve(runtime, args):
    from lms import server
    from lms.app import create_app
    from lms.jobs import Worker
    if runtime.settings.worker:
        runtime.worker = Worker(runtime).start()
    settings = runtime.settings
    stops = [runtime.worker.stop] if runtime.worker else []
    server.serve(create_app(runtime), settings.host, settings.port, on_stop=stops)


def worker(runtime, args):
    import signal
    import gevent.event
    from lms.jobs import Worker
    runtime.worker = Worker(runtime).start()
    stopping = gevent.event.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        gevent.signal_handler(signum, stopping.set)
    log.info("worker %s running", runtime.worker.id)
    stopping.wait()
    runtime.worker.stop()


def create_admin(runtime, args):
    from lms import schema, users
    from lms.audit import SYSTEM
    password = args.password or getpass.getpass("Password for the new admin: ")
    fields = schema.Obj(name=schema.Str(min=1, max=100), email=schema.Email(),
                        password=schema.Password()).validate(
        {"name": args.name, "email": args.email, "password": password})
    user = users.create(runtime.db, **fields, role="admin", rounds=runtime.settings.bcrypt_rounds,
                        actor=SYSTEM)
    print(f"created admin {user['email']} ({user['_id']})")


def seed_demo(runtime, args):
    from lms import demo
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
    args = parser.parse_args(argv)
    args.verb = args.verb or "serve"
    return args


def main(argv=None):
    args = parse(sys.argv[1:] if argv is None else argv)
    from lms.runtime import Runtime
    try:
        settings = Settings.from_env()
        logs.configure(settings.log_level)
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
