"""The certificate job run here, the way a worker slot runs it; reading the PDFs it makes, and
stand-ins for wkhtmltopdf placed first on PATH. (Certificates themselves: support/factories.py.)"""
import os
import subprocess
import tempfile
from datetime import timedelta

from lms.certificates import issuing, stamping
from lms.db import now
from lms.worker.schedule import certificate_tools
from support.app import adapters

WORKER = "test-worker"


def tools(settings):
    """The adapters a certificate job takes, opened as a process opens them."""
    return certificate_tools(adapters(settings))


def issue(db, settings, cert, worker_id=WORKER):
    """One claimed certificate job, run here the way a worker slot runs it."""
    return issuing.issue(db, cert, worker_id, **tools(settings))


def drain(db, settings, worker_id=WORKER, copies=True):
    """Run every due certificate job here, one after another, the way a worker slot does, then
    (``copies``) every due REVOKED copy (``stamping``); returns the status each certificate job
    ended in."""
    statuses = []
    while cert := issuing.claim(db, worker_id):
        statuses.append(issue(db, settings, cert, worker_id))
    if copies:
        stamp_copies(db, settings, worker_id)
    return statuses


def stamp_copies(db, settings, worker_id=WORKER):
    """Run every due REVOKED-copy job here; returns the status each ended in."""
    statuses = []
    while job := stamping.claim(db, worker_id):
        statuses.append(stamping.stamp(db, job, worker_id, **tools(settings)))
    return statuses


def make_due(db, cert_id):
    """Let time pass for one certificate: its backoff and any lease are over."""
    past = now() - timedelta(seconds=1)
    db.certificates.update_one({"certId": cert_id}, {"$set": {"nextAttemptAt": past, "leaseUntil": past}})


def pdf_text(pdf):
    with tempfile.NamedTemporaryFile(suffix=".pdf") as file:
        file.write(pdf)
        file.flush()
        text = subprocess.run(["pdftotext", file.name, "-"], capture_output=True, text=True, check=True).stdout
    return " ".join(text.split())


def fake_wkhtmltopdf(directory, script):
    """A ``wkhtmltopdf`` running the shell ``script``, first on the returned PATH."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "wkhtmltopdf"
    path.write_text("#!/bin/sh\n" + script + "\n")
    path.chmod(0o755)
    return f"{directory}{os.pathsep}{os.environ['PATH']}"


def stored_pdf(settings, cert):
    """The bytes of a certificate's PDF, as the storage holds them."""
    return tools(settings)["storage"].get(cert["storageKey"])

