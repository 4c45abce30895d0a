"""Uploads through webtest, and what "nothing was stored" means, for the submission and file
tests. (Sample files and an enrolled learner: support/factories.py.)"""


def upload(client, course, files, status=201, **fields):
    return client.post("/api/submissions", {"courseId": course["_id"], **fields}, upload_files=files,
                       content_type="multipart/form-data", status=status)


def stored_files(settings):
    root = settings.data_dir / "files"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def nothing_stored(db, settings):
    return (db.submissions.count_documents({}), stored_files(settings),
            db.auditLogs.count_documents({"targetType": "submission"})) == (0, [], 0)
