"""Reading bodies nobody has vouched for yet: XML without DTDs or entities, JSON of bounded depth, one set of rules.

Every webhook and JSON endpoint parses through here, so a hostile body (an unknown encoding, a DTD however
it is hidden, an entity bomb, 100,000 nested brackets, invalid UTF-8, a NUL or a lone surrogate that the
database would choke on later) is one `Unreadable` — a 400 at the route — and never an exception that
escapes as a 500.
"""
from __future__ import annotations

import json
import re
from typing import Any
from xml.etree import ElementTree

from defusedxml import ElementTree as DefusedElementTree

MAX_JSON_DEPTH = 64  # the deepest real payload (a Feishu card click) is under 10 levels
# Text no store keeps: PostgreSQL refuses NUL in text, and a lone surrogate cannot be encoded as UTF-8.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


class Unreadable(ValueError):
    """The body is not a document we accept; the message says why, for the log only."""


def xml_fields(raw: bytes | str, root: str = "xml") -> dict[str, Any]:
    """The children of the `root` element as {tag: text} (nested elements as dicts).

    A document whose first markup is its root element (`<xml>…`, as every platform sends it) has no prolog,
    so it can carry neither an XML declaration (no encoding but UTF-8) nor a DTD: C ElementTree reads it at
    full speed, and an entity it does not declare is an error. Anything else goes through defusedxml,
    which refuses a DTD wherever it sits, whatever the declared encoding.
    """
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    try:
        if data.lstrip(b" \t\r\n").startswith(b"<xml>"):
            el = ElementTree.fromstring(data)
        else:
            el = DefusedElementTree.fromstring(data, forbid_dtd=True)
    except (ElementTree.ParseError, ValueError, LookupError, UnicodeError, RecursionError) as e:
        # ValueError covers defusedxml's DTD/entity refusals; LookupError an unknown encoding name.
        raise Unreadable(type(e).__name__) from None
    if el.tag != root:
        raise Unreadable(f"no <{root}> root")
    return _children(el, 0)


def _children(el: ElementTree.Element, depth: int) -> dict[str, Any]:
    if depth > MAX_JSON_DEPTH:
        raise Unreadable("XML nested too deeply")
    return {c.tag: (c.text or "") if len(c) == 0 else _children(c, depth + 1) for c in el}


def json_value(raw: bytes | str) -> Any:
    """Strict JSON (UTF-8, no NaN, at most MAX_JSON_DEPTH deep, no NUL or lone surrogate in any string)."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, (bytes, bytearray)) else raw
        value = json.loads(text, parse_constant=_no_constant)
    except (ValueError, UnicodeError) as e:
        raise Unreadable(type(e).__name__) from None
    except RecursionError:  # the C scanner gives up near the interpreter's recursion limit
        raise Unreadable("JSON nested too deeply") from None
    _check(value)
    return value


def json_object(raw: bytes | str) -> dict[str, Any]:
    value = json_value(raw)
    if not isinstance(value, dict):
        raise Unreadable("not a JSON object")
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _check(value: Any) -> None:
    """Depth and storable strings, walked without recursion (the value may be a few hundred levels deep)."""
    stack = [(value, 1)]
    while stack:
        v, depth = stack.pop()
        if isinstance(v, str):
            if _UNSTORABLE.search(v):
                raise Unreadable("NUL or lone surrogate in a string")
        elif isinstance(v, (dict, list)):
            if depth > MAX_JSON_DEPTH:
                raise Unreadable("JSON nested too deeply")
            if isinstance(v, dict):
                stack.extend((k, depth) for k in v)
                stack.extend((x, depth + 1) for x in v.values())
            else:
                stack.extend((x, depth + 1) for x in v)
