"""The staff's reports: lists of students, enrollments and the audit trail (``lists``), their CSV
exports (``exports``) and analytics (``analytics``). Time filters use ``Instant``."""
import re
from datetime import datetime, timedelta, timezone

from ..errors import ValidationError
from ..schema import Field, Invalid


class Instant(Field):
    """A point in time in a query string, always read as UTC.

    ``2025-01-31`` is a whole UTC day: as a lower bound its first instant, as an upper bound
    (``end=True``) the first instant of the next day, so ``from=2025-01-01&to=2025-01-31`` is
    all of January. A time needs its zone (``2025-01-31T18:30:00Z`` or ``+05:30``): a time
    without one would silently mean different moments to a browser in India and to the server.
    Ranges are half-open, ``[from, to)``.
    """
    type = "string"
    _DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
    _TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})")

    def __init__(self, *, end=False, **kwargs):
        super().__init__(**kwargs)
        self.end = end

    def clean(self, value, query=False):
        if not isinstance(value, str):
            raise Invalid("must be a date (YYYY-MM-DD) or a time with its zone")
        value = value.strip()
        try:
            if self._DATE.fullmatch(value):
                day = datetime.fromisoformat(value).replace(tzinfo=timezone.utc)
                return day + timedelta(days=1) if self.end else day
            if self._TIME.fullmatch(value):
                return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(timezone.utc)
        except (ValueError, OverflowError):
            raise Invalid("is not a valid date or time") from None
        raise Invalid("must be a date (YYYY-MM-DD) or a time with its zone (2025-01-31T18:30:00Z)")

    def _constraints(self):
        return {"examples": ["2025-01-31", "2025-01-31T18:30:00Z"]}


def check_range(start, end):
    if start and end and end <= start:
        raise ValidationError({"to": "must be after from"})


def between(field, start, end):
    check_range(start, end)
    bounds = {**({"$gte": start} if start else {}), **({"$lt": end} if end else {})}
    return {field: bounds} if bounds else {}
