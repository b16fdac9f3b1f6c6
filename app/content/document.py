"""One document: its front matter and body, parsed; the rules for names and fields.

Nothing here touches the content tree or decides who may read what (``content.py`` finds
the files, ``audience.py`` decides).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from app.content.frontmatter import simple

try:  # libyaml is ten times faster on a 10,000-document catalogue (and on every save)
    from yaml import CSafeDumper as _Dumper
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeDumper as _Dumper
    from yaml import SafeLoader as _Loader

KINDS = {"policy": "policies", "faq": "faq"}  # kind -> folder and URL segment
SECTIONS = {section: kind for kind, section in KINDS.items()}
AUDIENCES = ("public", "internal")
META_FIELDS = ("title", "summary", "audience", "owner", "tags", "effective", "review_by")
MAX_BYTES = 1_000_000  # larger files are refused: nobody reads a 5 MB policy mid-call

# One path segment: letters, digits, dot, dash, underscore; never starting with a dot, so
# "..", ".git" and hidden files can never be named.  Checked before any filesystem access.
_SEGMENT = r"[A-Za-z0-9_][A-Za-z0-9._-]{0,99}"
SLUG_RE = re.compile(rf"^{_SEGMENT}(?:/{_SEGMENT}){{0,7}}$")
FRONT_MATTER_RE = re.compile(r"\A---[ \t]*\r?\n(.*?)(?:\r?\n)?^(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)",
                              re.S | re.M)
_H1_RE = re.compile(r"^#[ \t]+(.+?)[ \t#]*$", re.M)


def is_safe_slug(slug: str) -> bool:
    """True when ``slug`` may name a document (allow-list; also rejects ``..`` and NUL)."""
    return bool(SLUG_RE.fullmatch(slug)) and not slug.endswith(".md")


@dataclass(frozen=True)
class Problem:
    """Something wrong with a document, reported by ``kb check`` and shown to editors."""

    path: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.message}"


@dataclass
class Document:
    """One Markdown document as stored; ``body`` still holds its internal blocks."""

    kind: str
    slug: str
    path: str  # relative to the content root, with forward slashes
    title: str
    body: str
    audience: str = "internal"
    summary: str = ""
    owner: str = ""
    tags: list[str] = field(default_factory=list)
    effective: dt.date | None = None
    review_by: dt.date | None = None
    meta: dict = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    mtime: float = 0.0
    body_start: int = 1  # file line where the body begins (after front matter)

    @property
    def section(self) -> str:
        """The URL segment of this kind: ``policies`` or ``faq``."""
        return KINDS[self.kind]

    @property
    def url(self) -> str:
        return f"/{self.section}/{self.slug}"

    @property
    def is_public(self) -> bool:
        return self.audience == "public"


def _field_line(front: str, name: str) -> int:
    """File line of ``name:`` in the front matter (1 when it cannot be found)."""
    match = re.search(rf"^{re.escape(name)}\s*:", front, re.M)
    return front.count("\n", 0, match.start()) + 2 if match else 1


def _as_date(value, name: str, path: str, problems: list[Problem], front: str = ""
             ) -> dt.date | None:
    if value in (None, ""):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        problems.append(Problem(path, _field_line(front, name),
                                f"{name} must be a date like 2026-03-01, not {value!r}"))
        return None


def _title_from(body: str, path: str) -> str:
    match = _H1_RE.search(body)
    if match:
        return match.group(1).strip()
    return Path(path).stem.replace("-", " ").replace("_", " ").strip().capitalize() or path


def parse(text: str | bytes, *, kind: str, slug: str, path: str) -> Document:
    """Parse one file.  Never raises: what is wrong lands in ``Document.problems``.

    A document whose front matter cannot be read is treated as internal, so a typo in
    ``audience: public`` can hide a page but never expose one.
    """
    problems: list[Problem] = []
    if isinstance(text, bytes):
        if b"\x00" in text[:8192]:
            problems.append(Problem(path, None, "binary file, not Markdown text"))
            text = ""
        else:
            try:
                text = text.decode("utf-8-sig")
            except UnicodeDecodeError as exc:
                line = text[: exc.start].count(b"\n") + 1
                problems.append(Problem(path, line, "not valid UTF-8 text"))
                text = text.decode("utf-8", "replace")
    meta: dict = {}
    body = text
    front = ""
    body_start = 1
    match = FRONT_MATTER_RE.match(text)
    if match:
        body = text[match.end():]
        body_start = text.count("\n", 0, match.end()) + 1
        front = match.group(1)
        try:
            loaded = simple(front)
            if loaded is None:  # not of the simple shape: YAML reads it
                loaded = yaml.load(front, Loader=_Loader)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = mark.line + 2 if mark else 1  # +1 for 0-based, +1 for the opening ---
            reason = getattr(exc, "problem", None) or "invalid YAML"
            problems.append(Problem(path, line, f"front matter is not valid YAML: {reason}"))
            loaded = {}
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            problems.append(Problem(path, 2, "front matter must be a mapping of field: value"))
            loaded = {}
        meta = loaded
    elif text.startswith("---\n"):
        problems.append(Problem(path, 1, "front matter starts with --- but is never closed"))

    audience = meta.get("audience", "internal")
    if audience not in AUDIENCES:
        problems.append(Problem(path, _field_line(front, "audience"),
                                f"audience must be public or internal, not {audience!r}"))
        audience = "internal"
    tags = meta.get("tags") or []
    if isinstance(tags, str):
        tags = [t.strip() for t in tags.split(",") if t.strip()]
    if not isinstance(tags, list):
        problems.append(Problem(path, _field_line(front, "tags"), "tags must be a list"))
        tags = []
    title = meta.get("title")
    if title is not None and not isinstance(title, str):
        title = str(title)
    doc = Document(
        kind=kind,
        slug=slug,
        path=path,
        title=(title or "").strip() or _title_from(body, path),
        body=body,
        audience=audience,
        summary=str(meta.get("summary") or "").strip(),
        owner=str(meta.get("owner") or "").strip(),
        tags=[str(t).strip().lower() for t in tags if str(t).strip()],
        effective=_as_date(meta.get("effective"), "effective", path, problems, front),
        review_by=_as_date(meta.get("review_by"), "review_by", path, problems, front),
        meta=meta,
        problems=problems,
        body_start=body_start,
    )
    if problems:
        doc.audience = "internal"  # broken metadata fails closed: hidden, never exposed
    return doc


def split_front_matter(text: str) -> tuple[str, str]:
    """Return (front matter YAML, body) of a source text; ('', text) when there is none."""
    match = FRONT_MATTER_RE.match(text)
    if not match:
        return "", text
    return match.group(1), text[match.end():]


def compose(meta: dict, body: str) -> str:
    """Write a document back as front matter + body, fields in their documented order."""
    ordered = {k: meta[k] for k in META_FIELDS if meta.get(k) not in (None, "", [])}
    ordered.update({k: v for k, v in meta.items() if k not in ordered and v not in (None, "")})
    front = yaml.dump(ordered, Dumper=_Dumper, sort_keys=False, allow_unicode=True,
                      default_flow_style=None)
    return f"---\n{front}---\n{body.lstrip(chr(10))}"
