"""The mail the service sends, rendered from templates under ``views/mail/``.

Each message is ``<name>.txt`` (its first line ``Subject: ...``, a blank line, then the text
body) and, optionally, ``<name>.html``. Placeholders are ``$name`` (``string.Template``): the
text gets the values as they are, the HTML gets them escaped, and the subject is folded onto
one line (a newline in a header would be a header injection).
"""
import functools
import html
from dataclasses import dataclass
from pathlib import Path
from string import Template

TEMPLATES = Path(__file__).resolve().parents[3] / "views" / "mail"


@dataclass(frozen=True)
class Message:
    subject: str
    text: str
    html: str = None


def render(template, /, **values):
    """The message ``views/mail/<template>.txt`` (and ``.html``) with ``values`` filled in."""
    head, _, text = _template(f"{template}.txt").substitute(values).partition("\n\n")
    if not head.startswith("Subject: "):
        raise ValueError(f"views/mail/{template}.txt must start with a Subject: line")
    page = _template(f"{template}.html")
    escaped = {key: html.escape(str(value)) for key, value in values.items()}
    return Message(subject=" ".join(head.removeprefix("Subject: ").split()), text=text,
                   html=page.substitute(escaped) if page else None)


@functools.cache
def _template(filename):
    path = TEMPLATES / filename
    return Template(path.read_text(encoding="utf-8")) if path.exists() else None
