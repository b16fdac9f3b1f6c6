"""Front matter of the common, simple shape read without the YAML library.

Most documents' front matter is a few ``field: value`` lines: plain words, an ISO date, a
``[flow, list]`` of plain words.  ``simple`` reads exactly those and gives the same mapping
as ``yaml.load`` with the safe loader (tests compare them on generated text); anything else
(quotes, comments, numbers, nesting, a word YAML reads as true, false or null, a date it
might read otherwise) returns None and the caller asks YAML.  Even with libyaml, building
the Python objects of a mapping node by node cost 0.2 ms a document: two thirds of parsing
a 10,000-document catalogue.
"""

from __future__ import annotations

import datetime as dt
import re

# A line ``key: value``: a key of word characters, one colon, one space, no trailing space.
_LINE_RE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*): (\S(?:.*\S)?)")
# A plain scalar that YAML reads as a string: it starts with a letter (so it is no number,
# date, alias, tag, quote or indicator) and holds none of the characters that could end it
# or start something else (":" before a space, " #", flow brackets and commas in a list).
_WORDS_RE = re.compile(r"[A-Za-z][A-Za-z0-9 .,'()/&+?!@_-]*")
_ITEM_RE = re.compile(r"[A-Za-z][A-Za-z0-9 .'()/&+?!@_-]*")
_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# Plain scalars YAML 1.1 (PyYAML's resolver) reads as booleans or null, not as strings.
_NOT_STRINGS = frozenset("""
yes Yes YES no No NO true True TRUE false False FALSE on On ON off Off OFF null Null NULL
""".split())  # noqa: SIM905


def simple(text: str) -> dict | None:
    """The mapping ``text`` holds, or None when it is not of the simple shape."""
    out: dict = {}
    for line in text.split("\n"):
        match = _LINE_RE.fullmatch(line)
        if match is None:
            return None
        key, raw = match.groups()
        value = _value(raw)
        if value is None or key in out or key in _NOT_STRINGS:  # "on:" is the key True
            return None
        out[key] = value
    return out


def _value(raw: str):
    if raw[0] == "[":
        if raw[-1] != "]":
            return None
        items = [item.strip() for item in raw[1:-1].split(",")]
        if items == [""]:
            return [] if raw == "[]" else None
        if not all(_ITEM_RE.fullmatch(i) and i not in _NOT_STRINGS and "  " not in i
                   for i in items):
            return None
        return items
    if _DATE_RE.fullmatch(raw):
        try:
            return dt.date.fromisoformat(raw)
        except ValueError:
            return None
    if _WORDS_RE.fullmatch(raw) and raw not in _NOT_STRINGS and "  " not in raw:
        return raw
    return None
