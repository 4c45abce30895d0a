"""What one process holds open: settings, the database (and the embedded server behind it)."""
import logging

from . import db as database, users
from .cache import ResponseCache
from .db import EmbeddedServer

log = logging.getLogger("lms")


class Runtime:
    def __init__(self, settings, client, db, embedded=None):
        self.settings = settings
        self.client = client
        self.db = db
        self.embedded = embedded
        self.worker = None  # the in-process worker, when this process runs one
        self.cache = ResponseCache()

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
            database.ensure_indexes(runtime.db)
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
        self.client.close()
        if self.embedded:
            self.embedded.stop()
