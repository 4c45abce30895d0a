"""Declared input shapes: one description validates a request and documents it in OpenAPI.

    SIGNUP = Obj(name=Str(max=100), email=Email(), password=Password())
    SIGNUP.validate({"email": {"$ne": None}})   # -> ValidationError, per-field messages

Strings are never anything but strings (an operator object such as ``{"$ne": null}`` is
rejected before it can reach a query) and always text (no lone surrogates), numbers are
bounded, lengths are bounded, unknown body
fields are ignored (DESIGN §5) and unknown query parameters are an error, so a typo in a filter
is not silently a different question.
"""
import copy
import re
from urllib.parse import urlsplit

from ..errors import ValidationError

MISSING = object()


class Invalid(Exception):
    pass


class Field:
    type = None

    def __init__(self, *, required=True, default=MISSING, nullable=False, description=None, deprecated=False):
        self.required = required and default is MISSING
        self.default = default
        self.nullable = nullable
        self.description = description
        self.deprecated = deprecated  # an alias kept for one release: documented as such

    def clean(self, value, query=False):
        raise NotImplementedError

    def json_schema(self):
        schema = {"type": [self.type, "null"] if self.nullable else self.type}
        if self.description:
            schema["description"] = self.description
        if self.deprecated:
            schema["deprecated"] = True
        return {**schema, **self._constraints()}

    def _constraints(self):
        return {}

    def edit(self):
        """This field as part of a PUT or PATCH body: objects in it refuse unknown fields too."""
        return self


class Str(Field):
    type = "string"

    def __init__(self, *, min=0, max=1000, pattern=None, choices=None, strip=True, lower=False,
                 **kwargs):
        super().__init__(**kwargs)
        self.min, self.max, self.strip, self.lower = min, max, strip, lower
        self.pattern = pattern
        self.choices = tuple(choices) if choices else None

    def clean(self, value, query=False):
        if not isinstance(value, str):
            raise Invalid("must be a string")
        if not value.isascii() and not _encodable(value):
            raise Invalid("must be text (half of a surrogate pair is not)")
        if self.strip:
            value = value.strip()
        if self.lower:
            value = value.lower()
        if self.choices and value not in self.choices:
            raise Invalid("must be one of: " + ", ".join(self.choices))
        if len(value) < self.min:
            raise Invalid("is required" if self.min == 1 else f"must be at least {self.min} characters")
        if len(value) > self.max:
            raise Invalid(f"must be at most {self.max} characters")
        if self.pattern and value and not re.fullmatch(self.pattern, value):
            raise Invalid(self._pattern_message())
        return value

    def _pattern_message(self):
        return "has an invalid format"

    def _constraints(self):
        out = {"maxLength": self.max}
        if self.min:
            out["minLength"] = self.min
        if self.choices:
            out["enum"] = list(self.choices)
        if self.pattern:
            out["pattern"] = f"^(?:{self.pattern})$"
        return out


def _encodable(text):
    """Whether ``text`` can be stored: JSON's ``\\ud800`` escapes decode to lone surrogates,
    which are no characters and which no UTF-8 encoder (BSON's included) accepts."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class Id(Str):
    """A 24-hex-character document id."""

    def __init__(self, **kwargs):
        super().__init__(min=24, max=24, pattern=r"[0-9a-f]{24}", **kwargs)

    def _pattern_message(self):
        return "must be an id (24 hexadecimal characters)"


class Email(Str):
    def __init__(self, **kwargs):
        super().__init__(min=3, max=254, lower=True, pattern=r"[^@\s]+@[^@\s]+\.[^@\s]+", **kwargs)

    def _pattern_message(self):
        return "must be an e-mail address"

    def _constraints(self):
        return {**super()._constraints(), "format": "email"}


class Password(Str):
    """8 to 72 bytes: bcrypt ignores everything past the 72nd byte."""

    def __init__(self, **kwargs):
        super().__init__(min=8, max=72, strip=False, **kwargs)

    def clean(self, value, query=False):
        value = super().clean(value)
        if len(value.encode()) > 72:
            raise Invalid("must be at most 72 bytes")
        return value


class Url(Str):
    def __init__(self, **kwargs):
        super().__init__(max=2000, **kwargs)

    def clean(self, value, query=False):
        value = super().clean(value)
        if value:
            parts = urlsplit(value)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise Invalid("must be an http(s) URL")
        return value

    def _constraints(self):
        return {**super()._constraints(), "format": "uri"}


class Int(Field):
    type = "integer"

    def __init__(self, *, min=None, max=None, **kwargs):
        super().__init__(**kwargs)
        self.min, self.max = min, max

    def clean(self, value, query=False):
        if query and isinstance(value, str) and re.fullmatch(r"-?\d{1,18}", value.strip()):
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise Invalid("must be a whole number")
        if self.min is not None and value < self.min:
            raise Invalid(f"must be at least {self.min}")
        if self.max is not None and value > self.max:
            raise Invalid(f"must be at most {self.max}")
        return value

    def _constraints(self):
        out = {}
        if self.min is not None:
            out["minimum"] = self.min
        if self.max is not None:
            out["maximum"] = self.max
        return out


class Bool(Field):
    type = "boolean"

    def clean(self, value, query=False):
        if query and isinstance(value, str) and value.lower() in ("true", "1", "false", "0"):
            return value.lower() in ("true", "1")
        if not isinstance(value, bool):
            raise Invalid("must be true or false")
        return value


class List(Field):
    type = "array"

    def __init__(self, item, *, min=0, max=100, **kwargs):
        super().__init__(**kwargs)
        self.item, self.min, self.max = item, min, max

    def clean(self, value, query=False):
        if not isinstance(value, list):
            raise Invalid("must be a list")
        if not self.min <= len(value) <= self.max:
            raise Invalid(f"must have {self.min} to {self.max} items")
        errors, out = {}, []
        for index, item in enumerate(value):
            try:
                out.append(self.item.clean(item))
            except Invalid as exc:
                errors[str(index)] = str(exc)
            except ValidationError as exc:
                errors.update({f"{index}.{k}": v for k, v in exc.fields.items()})
        if errors:
            raise ValidationError(errors)
        return out

    def edit(self):
        strict = copy.copy(self)
        strict.item = self.item.edit()
        return strict

    def _constraints(self):
        out = {"items": self.item.json_schema(), "maxItems": self.max}
        if self.min:
            out["minItems"] = self.min
        return out


class Obj(Field):
    """A JSON object with named fields. ``validate`` is the entry point for a whole request."""
    type = "object"

    def __init__(self, fields=None, *, strict=False, **named):
        kwargs = {k: named.pop(k) for k in ("required", "default", "nullable", "description", "deprecated")
                  if k in named}
        super().__init__(**kwargs)
        self.fields = {**(fields or {}), **named}
        self.strict = strict  # unknown keys are an error (query strings) rather than ignored

    def clean(self, value, query=False):
        if not isinstance(value, dict):
            raise Invalid("must be an object")
        errors, out = {}, {}
        if self.strict:
            unknown = "is not a known parameter" if query else "is not a field that can be changed here"
            errors.update({key: unknown for key in value if key not in self.fields})
        for name, field in self.fields.items():
            if name not in value or (query and value[name] == "" and not field.required):
                if field.required:
                    errors[name] = "is required"
                elif field.default is not MISSING:
                    out[name] = field.default() if callable(field.default) else field.default
                continue
            if value[name] is None and field.nullable:
                out[name] = None
                continue
            try:
                out[name] = field.clean(value[name], query)
            except Invalid as exc:
                errors[name] = str(exc)
            except ValidationError as exc:
                errors.update({f"{name}.{k}": v for k, v in exc.fields.items()})
        if errors:
            raise ValidationError(errors)
        return out

    def validate(self, value, query=False):
        try:
            return self.clean(value, query)
        except Invalid as exc:
            raise ValidationError({"body": str(exc)}) from None

    def extend(self, **more):
        return Obj({**self.fields, **more}, strict=self.strict)

    def lenient(self):
        """This shape with unknown keys ignored."""
        return Obj(self.fields, description=self.description)

    def edit(self):
        """This shape with unknown fields refused, in nested objects too (a module's lessons): the
        body of a PUT or PATCH, where a field the server does not know would be a silent no-op edit."""
        strict = copy.copy(self)
        strict.fields = {name: field.edit() for name, field in self.fields.items()}
        strict.strict = True
        return strict

    def _constraints(self):
        out = {"properties": {n: f.json_schema() for n, f in self.fields.items()}}
        required = [n for n, f in self.fields.items() if f.required]
        if required:
            out["required"] = required
        if self.strict:
            out["additionalProperties"] = False
        return out


def Query(**fields):
    return Obj(fields, strict=True)


PAGE = dict(page=Int(min=1, max=100000, default=1), limit=Int(min=1, max=100, default=20),
            cursor=Str(max=400, required=False, description="The nextCursor of the previous page: the rows after it "
                       "(any depth; page numbers reach the first 1000 rows)"))


class Form:
    """A ``multipart/form-data`` body: the ``fields`` (an ``Obj``) and up to ``max_files`` files in
    the part named ``files``. It documents the upload; the route reads it with the one multipart
    reader (``lms.web.bodies.read_multipart``)."""

    def __init__(self, fields, *, files, max_files=1, description=None):
        self.fields, self.files, self.max_files, self.description = fields, files, max_files, description

    def json_schema(self):
        binary = {"type": "string", "format": "binary"}
        upload = binary if self.max_files == 1 else {"type": "array", "items": binary, "maxItems": self.max_files}
        schema = self.fields.json_schema()
        schema["properties"] = {**schema.get("properties", {}), self.files: upload}
        if self.max_files == 1 and not self.fields.fields:
            schema["required"] = [self.files]
        if self.description:
            schema["description"] = self.description
        return schema
