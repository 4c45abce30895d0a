"""Declared output shapes: one description serializes a document and documents it in OpenAPI.

    USER = Shape("User", {
        "id": Text(source="_id"),
        "name": Text(),
        "role": OneOf(ROLES),
        "createdAt": Timestamp(),
    })
    USER.dump(user_document)   # -> {"id": ..., "name": ..., "role": ..., "createdAt": "...Z"}
    USER.schema()              # -> {"$ref": "#/components/schemas/User"}

A shape names every field it outputs and the type of each; its ``dump`` is the serializer, so
what the API sends and what ``/api/openapi.json`` says it sends cannot drift apart. Each field
reads the document's key of the same name (``source`` names another), or computes its value
with ``get(document, context)``, where ``context`` holds what ``dump`` was given besides the
document (the ``Urls`` for a certificate's links, say). A missing value is the field's
``default`` (None unless given); a field that is ``optional`` is left out when its value is None
(documented as not required); every other field is always there, null where the shape says it
may be (``nullable``).

Shapes register themselves by name, so the OpenAPI description lists each once under
``components.schemas`` and refers to it everywhere else.
"""
from ..db import iso

REGISTRY = {}  # name -> Shape, every shape of the service (each a component of the OpenAPI document)
_MISSING = object()


class Out:
    """One output field: where its value comes from, and its JSON type."""
    type = None

    def __init__(self, source=None, *, get=None, default=None, nullable=False, optional=False,
                 description=None):
        self.source, self.get, self.default = source, get, default
        self.nullable, self.optional, self.description = nullable, optional, description

    def value(self, doc, name, context):
        if self.get is not None:
            return self.get(doc, context)
        found = doc.get(self.source or name)
        return self.default if found is None else found

    def dump(self, value, context):
        return value

    def schema(self):
        schema = self._schema()
        if self.nullable:
            schema = {"anyOf": [schema, {"type": "null"}]} if "$ref" in schema else {
                **schema, "type": [schema["type"], "null"]}
        if self.description:
            schema = {**schema, "description": self.description}
        return schema

    def _schema(self):
        return {"type": self.type}


class Text(Out):
    type = "string"

    def __init__(self, source=None, *, format=None, **kwargs):
        super().__init__(source, **kwargs)
        self.format = format

    def _schema(self):
        return {"type": "string", **({"format": self.format} if self.format else {})}


class Integer(Out):
    type = "integer"


class Number(Out):
    type = "number"


class Boolean(Out):
    """True or false; a missing value is false (documents written before the field existed)."""
    type = "boolean"

    def value(self, doc, name, context):
        found = super().value(doc, name, context)
        return found if found is None and self.nullable else bool(found)


class Timestamp(Out):
    """A datetime, sent as ISO-8601 UTC with a ``Z`` (``2026-11-27T08:30:51.688Z``)."""
    type = "string"

    def dump(self, value, context):
        return iso(value)

    def _schema(self):
        return {"type": "string", "format": "date-time"}


class OneOf(Out):
    """A string from a fixed set."""
    type = "string"

    def __init__(self, choices, source=None, **kwargs):
        super().__init__(source, **kwargs)
        self.choices = tuple(choices)

    def _schema(self):
        # A nullable choice lists null among the values too: an enum is checked apart from the type.
        return {"type": "string", "enum": [*self.choices, *([None] if self.nullable else [])]}


class Anything(Out):
    """A JSON object whose members are not fixed (an audit entry's details)."""
    type = "object"

    def _schema(self):
        return {"type": "object", "additionalProperties": True}


class ListOf(Out):
    type = "array"

    def __init__(self, item, source=None, **kwargs):
        super().__init__(source, **kwargs)
        self.item = item

    def dump(self, value, context):
        return [self.item.dump(v, context) for v in value or ()]

    def _schema(self):
        return {"type": "array", "items": self.item.schema()}


class Shape(Out):
    """A JSON object with named fields; registered by ``name`` (an OpenAPI component)."""
    type = "object"

    def __init__(self, name, fields, *, description=None, **kwargs):
        super().__init__(**kwargs)
        if name in REGISTRY:
            raise ValueError(f"two shapes are named {name}")
        self.name, self.fields, self.description_text = name, dict(fields), description
        REGISTRY[name] = self

    def __call__(self, source=None, **kwargs):
        """This shape as a field of another, read from ``source`` (default: the field's name)."""
        return _Embedded(self, source, **kwargs)

    def dump(self, doc, context=None, /, **more):
        """The output object of ``doc``; ``more`` joins ``context`` for the fields' ``get``."""
        if doc is None:
            return None
        context = {**(context or {}), **more}
        out = {}
        for name, field in self.fields.items():
            value = field.value(doc, name, context)
            if value is None:
                if field.optional:
                    continue
                if not field.nullable:  # broken data: fail here rather than send what the schema denies
                    raise ValueError(f"{self.name}.{name} has no value")
                out[name] = None
            else:
                out[name] = field.dump(value, context)
        return out

    def extend(self, name, fields, *, description=None):
        """A new shape: these fields and then ``fields`` (which may replace some)."""
        return Shape(name, {**self.fields, **fields}, description=description or self.description_text)

    def _schema(self):
        return {"$ref": f"#/components/schemas/{self.name}"}

    def component(self):
        """The object schema this shape stands for (under ``components.schemas``)."""
        schema = {"type": "object", "properties": {n: f.schema() for n, f in self.fields.items()},
                  "required": [n for n, f in self.fields.items() if not f.optional],
                  "additionalProperties": False}
        if self.description_text:
            schema["description"] = self.description_text
        return schema


class _Embedded(Out):
    """A shape used as a field: the nested document is read like any field's value."""

    def __init__(self, shape, source=None, **kwargs):
        super().__init__(source, **kwargs)
        self.shape = shape

    def dump(self, value, context):
        return self.shape.dump(value, context)

    def _schema(self):
        return self.shape._schema()


class Reply:
    """What a route answers on success: ``{"ok": true, <members>}`` with ``status``.

        Reply(user=USER)                 # {"ok": true, "user": {...User}}
        Reply(201, submission=SUBMISSION)
        Reply((200, 201), enrollment=ENROLLMENT, order=CHECKOUT_ORDER(optional=True))
    """

    def __init__(self, status=200, description="Success", /, **members):
        self.statuses = (status,) if isinstance(status, int) else tuple(status)
        self.description, self.members = description, members

    @classmethod
    def flat(cls, shape, status=200):
        """The shape's fields next to ``ok`` (the certificate verification answer, DESIGN §9)."""
        return cls(status, shape.description_text or "Success", **shape.fields)

    def schema(self):
        return {"type": "object", "properties": {"ok": {"const": True},
                                                  **{n: f.schema() for n, f in self.members.items()}},
                "required": ["ok", *(n for n, f in self.members.items() if not f.optional)],
                "additionalProperties": False}


class Page(Reply):
    """A list reply: ``{"ok": true, "items": [...], "page", "limit", "total", "totalIsExact",
    "nextCursor"}`` and ``more`` members (``lms.pagination``)."""

    def __init__(self, item, status=200, description="One page of the list", /, **more):
        super().__init__(status, description, items=ListOf(item), page=Integer(), limit=Integer(),
                         total=Integer(description="Exact when totalIsExact; else an estimate, or the bound counted to"),
                         totalIsExact=Boolean(), nextCursor=Text(nullable=True, description=(
                             "Pass as cursor for the rows after this page; null on the last page")), **more)
        self.item = item


class Replies:
    """A route whose successes differ by status, each its own ``Reply``:

        Replies(Reply(201, user=USER), Reply(202, message=Text()))
    """

    def __init__(self, *replies):
        self.replies = replies
        self.statuses = tuple(status for reply in replies for status in reply.statuses)
