"""CSV exports: every matching row, streamed, safe to open in a spreadsheet."""
import codecs
import csv
import io
import itertools
from datetime import datetime

from .. import audit
from ..db import iso

BATCH = 500
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


# --- CSV --------------------------------------------------------------------------------

def batches(iterable, size=BATCH):
    iterator = iter(iterable)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


def safe_cell(value):
    """A cell as text, with a leading ``'`` where a spreadsheet would see a formula."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    return "'" + text if isinstance(value, str) and text.startswith(FORMULA_STARTS) else text


def csv_stream(header, rows, chunk_bytes=64 * 1024):
    """An iterator of UTF-8 CSV chunks. The first row is fetched now, before the response starts,
    so a failing database is an error response and not a cut-off file."""
    rows = iter(rows)
    first = list(itertools.islice(rows, 1))

    def chunks():
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(header)
        prefix = codecs.BOM_UTF8
        for row in itertools.chain(first, rows):
            writer.writerow([safe_cell(cell) for cell in row])
            if buffer.tell() >= chunk_bytes:
                yield prefix + buffer.getvalue().encode()
                prefix = b""
                buffer.seek(0)
                buffer.truncate()
        yield prefix + buffer.getvalue().encode()
    return chunks()


def named_export(db, actor, name, cursor, filters, named, columns, **said):
    """Audit the export ``name`` (its ``filters`` and what else is ``said``), then stream the
    documents of ``cursor`` as CSV: each batch shown by ``named(db, batch)`` (rows naming their
    ``user`` and ``course``), flattened to ``columns``."""
    audit.record(db, actor, "report.export", "report", name, **said,
                 **{k: iso(v) if isinstance(v, datetime) else v for k, v in filters.items() if v})

    def rows():
        for batch in batches(cursor.batch_size(BATCH)):
            for shown in named(db, batch):
                flat = {**shown, "userName": shown["user"]["name"], "userEmail": shown["user"]["email"],
                        "courseTitle": shown["course"]["title"]}
                yield [flat[column] for column in columns]
    return csv_stream(columns, rows())
