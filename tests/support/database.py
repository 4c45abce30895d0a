"""The database server of the suite: SecantusDB's ``secantusd-py`` as a child process."""
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from pymongo import MongoClient, monitoring

from lms import db as database


class DatabaseServer:
    """A secantusd-py process on a loopback port; stop() and start() keep the port."""

    def __init__(self, storage=":memory:"):
        self.port = database.free_port()
        self.storage = storage
        self.process = None

    @property
    def uri(self):
        return f"mongodb://127.0.0.1:{self.port}/?directConnection=true&retryWrites=false"  # as lms.db's

    def start(self):
        exe = str(Path(sys.executable).parent / "secantusd-py")
        self.process = subprocess.Popen(
            [exe, "--host", "127.0.0.1", "--port", str(self.port), "--storage-path", self.storage,
             "--log-level", "ERROR"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        database.connect(self.uri, wait=30).close()
        return self

    def stop(self):
        """An outage: SIGTERM, which usually ends the server in about two seconds. On a loaded machine
        its shutdown can wait on a connection handler for longer; then SIGKILL, which loses nothing
        (the server's journal makes every acknowledged write survive a kill), ends it either way."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()

    def kill(self):
        """The end of a server whose data nobody needs any more (a teardown): at once."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(20)


def with_database(uri, name):
    """``uri`` with its database name replaced by ``name``."""
    parts = urlsplit(uri)
    return urlunsplit(parts._replace(path=f"/{name}"))


class Commands(monitoring.CommandListener):
    """The commands a client sends, as (name, the command), but the ``endSessions`` of its close."""

    def __init__(self):
        self.sent = []

    def started(self, event):
        if event.command_name != "endSessions":
            self.sent.append((event.command_name, event.command))

    def succeeded(self, event):
        pass

    def failed(self, event):
        pass


def watched(db):
    """A client of its own on ``db``'s database, that database, and what the client sends."""
    commands = Commands()
    client = MongoClient(*db.client.address, tz_aware=True, directConnection=True, event_listeners=[commands])
    return client, client[db.name], commands
