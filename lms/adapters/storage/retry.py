"""How long an outside storage service asked us to wait before trying again."""
import email.utils
import time


def retry_after(value, now=None):
    """Seconds to wait from a ``Retry-After`` (seconds or an HTTP date) or a rate limit's reset
    header (an HTTP date, or epoch seconds); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    now = time.time() if now is None else now
    if value.isdigit():
        number = int(value)
        return max(0, number - now) if number > 10 ** 9 else number  # an epoch, or a delay
    try:
        return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - now)
    except (TypeError, ValueError, IndexError):
        return None
