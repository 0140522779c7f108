"""The one JSON body rule of the API (docs/api.md, "Request bodies"): every JSON request body is
a JSON object, nested at most MAX_DEPTH levels, no larger than DATA_UPLOAD_MAX_MEMORY_SIZE.

`JsonObjectParser` is the project's JSON parser (REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"]), so
the rule holds for every DRF view at once; the labeling hot path's fast path
(labeling/api_fast.py) checks the same `too_deep` before its own parse and leaves anything it
refuses to this parser, so both paths answer the same 400. A refused body changes nothing: the
view never runs.

Depth is checked before parsing, by a scan of the body's brackets outside strings (C-speed
regular expression and `bytes.translate`, then a loop over the brackets alone, which stops at
the limit): Python's `json` would otherwise recurse into a body of ~2 KB of brackets until a
RecursionError (a 500), and a deep structure would reach code that walks it recursively.
"""

import io
import re

from django.conf import settings
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import JSONParser

# The deepest JSON body accepted: the objects and arrays one inside the other. The API's deepest
# real input (a draft's steps, an export's filters) is 3 levels; 64 leaves room and no more.
MAX_DEPTH = 64

TOO_DEEP = f"JSON nested too deeply (more than {MAX_DEPTH} levels)"
NOT_AN_OBJECT = "Expected a JSON object."

_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_OPENING = frozenset(b"[{")


def too_deep(body: bytes, limit: int = MAX_DEPTH) -> bool:
    """Whether the JSON text `body` (UTF-8 bytes) nests arrays and objects more than `limit`
    levels deep. Brackets inside strings do not count. A malformed text is measured as it
    stands (its parse fails anyway). Costs one `count` pass when the body has at most `limit`
    opening brackets, else one regular-expression pass and a loop over its brackets."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    depth = 0
    for byte in _STRING.sub(b"", body).translate(None, _NOT_BRACKETS):
        if byte in _OPENING:
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


class BodyTooLarge(APIException):
    """A request body over DATA_UPLOAD_MAX_MEMORY_SIZE: 413."""

    status_code = 413
    default_code = "body_too_large"


def too_large_message(limit: int) -> str:
    """The 413's detail for a body over `limit` bytes (DATA_UPLOAD_MAX_MEMORY_SIZE)."""
    return f"Request body larger than {limit} bytes"


class JsonObjectParser(JSONParser):
    """DRF's JSONParser (same decoding, NaN and Infinity refused as STRICT_JSON says), plus the
    body rule: more than DATA_UPLOAD_MAX_MEMORY_SIZE bytes -> 413, nested deeper than
    MAX_DEPTH -> 400 `TOO_DEEP`, anything but an object -> 400 `NOT_AN_OBJECT` (ParseError)."""

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        body = stream.read() if limit is None else stream.read(limit + 1)
        if limit is not None and len(body) > limit:
            raise BodyTooLarge(too_large_message(limit))
        if too_deep(body):
            raise ParseError(TOO_DEEP)
        data = super().parse(io.BytesIO(body), media_type, parser_context)
        if type(data) is not dict:
            raise ParseError(NOT_AN_OBJECT)
        return data
