"""What one process holds open: settings, the database (and the embedded server behind it), and
the adapters, each opened once here and handed to whatever uses it.

    runtime.urls       links to this service (``lms.web.urls.Urls``, from the route table)
    runtime.storage    file storage (local or Cloudinary)
    runtime.mailer     the mail transport (outbox or SMTP)
    runtime.keyring    the credential signing keys
    runtime.razorpay   the Razorpay client, or None when Razorpay is off
    runtime.renderer   the PDF renderer (wkhtmltopdf)
    runtime.cache      the response cache of public reads
    runtime.events     the hub that feeds the users' live event streams
    runtime.api_description   the OpenAPI document, built once per process from the route table
    runtime.api_text   the same as the JSON text /api/openapi.json answers
    runtime.readiness  the background health check /api/health answers from (started with the app)
    runtime.worker     the in-process worker, when this process runs one
"""
import functools
import json
import logging

from . import db as database
from .accounts import users
from .adapters.mail import open_mailer
from .adapters.razorpay import open_razorpay
from .adapters.storage import open_storage
from .adapters.wkhtmltopdf import Wkhtmltopdf
from .certificates.badges import Keyring
from .db import EmbeddedServer
from .payments import upgrade as payments_upgrade
from .reports import stats
from .routes import ROUTES
from .web.caching import ResponseCache
from .web.events import EventHub
from .web import openapi
from .web.urls import Urls
from .worker.monitoring import Readiness

log = logging.getLogger("lms")


@functools.lru_cache(maxsize=8)
def api_description(public_url):
    """The OpenAPI document of the route table and its JSON text, made once per process (per
    public URL: the tests run several services): it is large, and the same for every request.
    The document is shared, so nothing may change it."""
    document = openapi.describe(ROUTES, public_url)
    return document, json.dumps(document, separators=(",", ":"))


class Runtime:
    def __init__(self, settings, client, db, embedded=None):
        self.settings = settings
        self.client = client
        self.db = db
        self.embedded = embedded
        self.worker = None
        self.cache = ResponseCache(max_bytes=settings.cache_bytes)
        self.events = EventHub(db)
        self.urls = Urls(ROUTES, settings.public_url, settings.frontend_url)
        self.storage = open_storage(settings, lambda key: self.urls.url_for("submissions_serve_file", key=key))
        self.mailer = open_mailer(settings)
        self.keyring = Keyring.from_settings(settings)
        self.razorpay = open_razorpay(settings)
        self.renderer = Wkhtmltopdf()
        self.api_description, self.api_text = api_description(settings.public_url)
        self.readiness = Readiness(db)

    @classmethod
    def open(cls, settings):
        """Connect (starting the embedded server when no MONGODB_URI is set), create indexes,
        and create the bootstrap admin; on failure nothing is left running."""
        embedded = None
        try:
            uri = settings.mongodb_uri
            if not uri:
                embedded = EmbeddedServer(settings.data_dir)
                uri = embedded.start()
            client = database.connect(uri, settings.db_wait)
            runtime = cls(settings, client, client.get_default_database("lms"), embedded)
            payments_upgrade.drop_indexes(runtime.db)  # indexes of rows kept per order: INDEXES replaces them
            database.ensure_indexes(runtime.db)
            converted = payments_upgrade.convert(runtime.db)
            stats.prepare(runtime.db, stale=bool(converted))  # counters of a database made before them
            if settings.bootstrap_admin_email:
                users.ensure_admin(runtime.db, email=settings.bootstrap_admin_email,
                                   password=settings.bootstrap_admin_password,
                                   rounds=settings.bcrypt_rounds)
            return runtime
        except BaseException:
            if embedded:
                embedded.stop()
            raise

    def close(self):
        self.readiness.stop()  # before the client closes under its next ping
        self.client.close()
        if self.embedded:
            self.embedded.stop()
