"""``content/synonyms.yml``: groups of words searched as one, edited by policy owners.

The file is a YAML list of groups, e.g. ``- [refund, money back, reimbursement]``.
Reading never fails: a missing or broken file means no synonyms (and a logged warning).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import yaml

FILE = "synonyms.yml"
MAX_TERM = 60
_TERM_RE = re.compile(r"^[\w][\w' -]*$")
log = logging.getLogger(__name__)


def parse(text: str) -> list[list[str]]:
    """Groups of lower-case terms; entries that are not lists of strings are skipped."""
    try:
        data = yaml.safe_load(text) or []
    except yaml.YAMLError as exc:
        log.warning("synonyms.yml is not valid YAML, synonyms are off: %s", exc)
        return []
    if not isinstance(data, list):
        log.warning("synonyms.yml must be a list of groups; synonyms are off")
        return []
    groups = []
    for number, entry in enumerate(data, start=1):
        if not isinstance(entry, list):
            log.warning("synonyms.yml entry %d is not a [word, word, ...] group: skipped",
                        number)
            continue
        terms = [" ".join(str(t).lower().split()) for t in entry if str(t).strip()]
        if len(terms) > 1:
            groups.append(terms)
    return groups


def load(root: Path) -> list[list[str]]:
    try:
        return parse((root / FILE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        return []


def valid_term(term: str) -> bool:
    return 0 < len(term) <= MAX_TERM and bool(_TERM_RE.fullmatch(term))


def with_synonym(text: str, term: str, synonym_of: str) -> str:
    """The file's text with ``term`` added to the group of ``synonym_of`` (or a new group).

    Comments and other groups are kept: the new term is appended on its own line when a new
    group is needed, or the matching group line is rewritten in place.
    """
    term, target = " ".join(term.lower().split()), " ".join(synonym_of.lower().split())
    if not (valid_term(term) and valid_term(target)) or term == target:
        raise ValueError("synonyms must be words or short phrases of letters, digits, spaces, "
                         "' and -")
    lines = text.splitlines()
    for number, line in enumerate(lines):
        stripped = line.strip()
        if not stripped.startswith("- ["):
            continue
        group = parse(stripped)
        if group and target in group[0]:
            if term in group[0]:
                return text
            lines[number] = line[: line.index("- [")] + "- " + _flow(group[0] + [term])
            return "\n".join(lines) + "\n"
    return text.rstrip("\n") + ("\n" if text.strip() else "") + "- " + _flow([target, term]) + "\n"


def _flow(terms: list[str]) -> str:
    return "[" + ", ".join(terms) + "]"
