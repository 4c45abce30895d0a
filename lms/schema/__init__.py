"""Declared shapes, in (``inputs``: what a request may send, validated) and out (``outputs``: what
a response sends, serialized); both document the API in OpenAPI from the same declaration."""
from .inputs import (MISSING, PAGE, Bool, Email, Field, Form, Id, Int, Invalid, List, Obj, Password, Query,  # noqa: F401
                     Str, Url)
from .outputs import (REGISTRY, Anything, Boolean, Integer, ListOf, Number, OneOf, Out, Page, Replies, Reply,  # noqa: F401
                      Shape, Text, Timestamp)
