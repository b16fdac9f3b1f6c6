"""Markdown -> safe HTML.

Input is text that ``audience.project`` already filtered.  The pipeline is Python-Markdown
(tables, fenced code, toc with permalinks, admonitions, definition lists, task lists,
footnotes) followed by nh3 with an allow-list of tags and attributes and a URL filter.
Every ``id`` and in-page ``#link`` gets a prefix so an author cannot clobber the page's own
ids (``#q``, ``#main``).  Results are cached by a hash of the input: in each worker's
memory, and on disk under ``KB_DATA_DIR/render/`` so that when a save changes a page, one
worker renders it and the others read the result (rendering a policy page costs a few
milliseconds; every gunicorn worker used to pay that for every changed page).  Entries on
disk are signed with the secret key (``sharedfiles``): one that does not verify is rendered
again, never served.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import re
import secrets
import threading
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import markdown
import nh3
from markdown.extensions import Extension
from markdown.treeprocessors import InlineProcessor, Treeprocessor

from app.caching import sharedfiles
from app.caching.lru import SizedLRU

ID_PREFIX = "sec-"
RENDERER_VERSION = "3"  # 2: classes restricted to the renderer's own; 3: tables wrapped in a
# scrolling region

ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "caption", "code", "dd", "del", "details", "div",
    "dl", "dt", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "input", "ins",
    "kbd", "li", "mark", "ol", "p", "pre", "q", "s", "small", "span", "strong", "sub",
    "summary", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "u", "ul",
}
ALLOWED_ATTRIBUTES = {
    "*": {"class", "id", "title"},  # ``class``: only the renderer's own (``CLASSES``)
    "a": {"href"},
    "abbr": {"title"},
    "img": {"src", "alt", "width", "height"},
    "input": {"type", "checked", "disabled"},
    "td": {"align", "colspan", "rowspan"},
    "th": {"align", "colspan", "rowspan", "scope"},
    "ol": {"start"},
}
_SAFE_SCHEMES = ("http://", "https://", "mailto:")
# Characters browsers ignore inside a URL scheme ("java\u200bscript:"): removed before checks.
_INVISIBLE_RE = re.compile(
    r"[\x00-\x20\x7f-\x9f\u00ad\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]")


def safe_url(value: str, *, allow_fragment: bool = True) -> str | None:
    """Return the URL if it is http(s), mailto, a #fragment or site-relative ``/path``."""
    probe = _INVISIBLE_RE.sub("", unicodedata.normalize("NFKC", value)).lower()
    if probe.startswith(_SAFE_SCHEMES):
        return value
    if allow_fragment and probe.startswith("#"):
        return value
    if probe.startswith("/") and not probe.startswith("//") and "\\" not in probe:
        return value
    return None


# The classes the renderer itself emits, per tag; any other class (an author's raw HTML) is
# dropped, so text can style itself only as Markdown would.  The "Agents only" callout is
# not among them: see ``_Callouts``.
ADMONITION_TYPES = {"attention", "caution", "danger", "error", "hint", "important", "note",
                    "tip", "warning"}
CLASSES = {
    "a": {"headerlink", "footnote-ref", "footnote-backref"},
    "div": {"admonition", "highlight", "footnote", *ADMONITION_TYPES},
    "p": {"admonition-title"},
    "pre": {"highlight"},
    "ul": {"task-list"},
    "li": {"task-list-item"},
}
CLASS_PATTERNS = {
    "span": re.compile(r"[a-z]{1,3}[0-9]?"),  # Pygments' token classes in code blocks
    "code": re.compile(r"language-[A-Za-z0-9_+#.-]{1,40}"),
}
AGENTS_ONLY = "agents-only"
# What the genuine callout carries until sanitizing is done: a per-process secret, so no
# author can write it.  It becomes ``agents-only`` in the sanitized HTML.
_CALLOUT_MARK = "kb-callout-" + secrets.token_hex(12)


def _classes(tag: str, value: str) -> str | None:
    allowed, pattern = CLASSES.get(tag, ()), CLASS_PATTERNS.get(tag)
    kept = [c for c in value.split() if c in allowed or (pattern and pattern.fullmatch(c))
            or (tag == "div" and c == _CALLOUT_MARK)]
    return " ".join(kept) or None


def _attribute_filter(tag: str, attr: str, value: str) -> str | None:
    if attr == "class":
        return _classes(tag, value)
    if attr == "id":
        return value if value.startswith(ID_PREFIX) else ID_PREFIX + value
    if attr == "href":
        url = safe_url(value)
        if url and url.startswith("#") and not url.startswith("#" + ID_PREFIX):
            return "#" + ID_PREFIX + url[1:]
        return url
    if attr == "src":
        return safe_url(value, allow_fragment=False)
    if tag == "input" and attr == "type":
        return value if value == "checkbox" else None
    return value


_cleaner = nh3.Cleaner(
    tags=ALLOWED_TAGS,
    clean_content_tags={"script", "style"},
    attributes=ALLOWED_ATTRIBUTES,
    attribute_filter=_attribute_filter,
    url_schemes={"http", "https", "mailto"},
    link_rel="noopener noreferrer",
    strip_comments=True,
)


def sanitize(html: str) -> str:
    return _cleaner.clean(html).replace(_CALLOUT_MARK, AGENTS_ONLY)


class _Callouts(Treeprocessor):
    """Marks the "Agents only" admonitions Markdown made, before raw HTML is put back: an
    author's ``<div class="admonition agents-only">`` never gets the mark, so sanitizing
    drops its class.  After projection, such admonitions come only from ``::: internal``
    (``audience`` hides every ``!!! agents-only`` an author writes)."""

    def run(self, root):
        for element in root.iter("div"):
            classes = (element.get("class") or "").split()
            if "admonition" in classes and AGENTS_ONLY in classes:
                element.set("class", " ".join(_CALLOUT_MARK if c == AGENTS_ONLY else c
                                              for c in classes))


class _CalloutExtension(Extension):
    def extendMarkdown(self, md):
        md.treeprocessors.register(_Callouts(md), "kb_callouts", 1)


@functools.lru_cache(maxsize=4096)
def slugify(value: str, separator: str = "-") -> str:
    """Heading id (without prefix); shared with the search index so links land exactly.
    Remembered: a full search build meets the same few headings on most pages."""
    value = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode("ascii")
    value = re.sub(r"[^\w\s-]", "", value).strip().lower()
    return re.sub(rf"[{separator}\s]+", separator, value) or "section"


def section_id(heading: str, used: dict[str, int]) -> str:
    """The full id the renderer gives a heading, counting repeats like the toc extension."""
    base = slugify(heading)
    n = used.get(base, 0)
    used[base] = n + 1
    return ID_PREFIX + (base if n == 0 else f"{base}_{n}")


_EXTENSIONS = [
    "tables", "def_list", "footnotes", "admonition", "sane_lists", "toc",
    "pymdownx.superfences", "pymdownx.tasklist", _CalloutExtension(),
]
_EXTENSION_CONFIGS = {
    "toc": {"permalink": "#", "permalink_title": "Link to this section", "slugify": slugify,
            "toc_depth": "2-4"},
    "pymdownx.superfences": {"css_class": "highlight"},
}
_local = threading.local()


def _markdown() -> markdown.Markdown:
    # Markdown instances keep state between calls and are not thread-safe: one per thread.
    md = getattr(_local, "md", None)
    if md is None:
        md = _local.md = markdown.Markdown(extensions=_EXTENSIONS,
                                           extension_configs=_EXTENSION_CONFIGS)
        _skip_plain_text(md)
    return md


# Every inline pattern of the extensions above needs one of these characters to match, so
# text with none of them comes out as it went in.  Python-Markdown tries each of its 15
# patterns on every piece of text all the same: half of a policy's rendering time.
_INLINE_PATTERNS = {"backtick", "escape", "footnote", "reference", "link", "image_link",
                    "image_reference", "short_reference", "short_image_ref", "autolink",
                    "automail", "linebreak", "html", "entity", "em_strong"}
_MAY_BE_MARKUP = re.compile(r"[`\\\[<&*_]|  \n")


class _PlainTextShortcut(InlineProcessor):
    def _InlineProcessor__handleInline(self, data: str, patternIndex: int = 0) -> str:
        if not _MAY_BE_MARKUP.search(data):
            return data
        return super()._InlineProcessor__handleInline(data, patternIndex)


def _skip_plain_text(md: markdown.Markdown) -> None:
    """Install the shortcut, but only while the inline patterns are exactly the ones the
    character class above was written for (an added extension turns it off)."""
    if {p.name for p in md.inlinePatterns._priority} != _INLINE_PATTERNS:
        return
    inline = next(p for p in md.treeprocessors._priority if p.name == "inline")
    md.treeprocessors.register(_PlainTextShortcut(md), "inline", inline.priority)


@dataclass(frozen=True)
class Rendered:
    html: str
    toc: tuple[tuple[int, str, str], ...]  # (level, id, text)


def _flatten(tokens, out):
    for tok in tokens:
        out.append((tok["level"], ID_PREFIX + tok["id"], tok["name"]))
        _flatten(tok.get("children", []), out)
    return out


def _renderer_digest() -> str:
    """What the HTML of a text depends on besides the text: this module's version, the
    Markdown extensions and their settings, the sanitizer's allow-lists and the versions of the
    packages that do the work.  Part of every render cache key (in memory and on disk), so an
    upgrade or a sanitizer fix renders every page again instead of serving old HTML."""
    settings = repr((RENDERER_VERSION, _EXTENSIONS, sorted(
        (name, sorted((k, getattr(v, "__name__", repr(v))) for k, v in conf.items()))
        for name, conf in _EXTENSION_CONFIGS.items()),
        sorted(ALLOWED_TAGS), sorted((k, sorted(v)) for k, v in ALLOWED_ATTRIBUTES.items())))
    # The module's own source too: the attribute filter and the URL rules are code.
    source = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()
    versions = [f"{name}={_version(name)}" for name in ("markdown", "pymdown-extensions", "nh3")]
    return hashlib.sha256("\0".join([settings, source, *versions]).encode()).hexdigest()[:16]


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "?"


RENDERER_DIGEST = _renderer_digest()
# Rendered pages by sha256(renderer digest, projected Markdown): the text decides the HTML.
_cache = SizedLRU(max_bytes=32 << 20,
                  size_of=lambda r: 2 * len(r.html) + sum(len(t) + 40 for *_i, t in r.toc))


def without_title(text: str, title: str) -> str:
    """Drop a leading ``# title`` line: the page header already shows the title."""
    stripped = text.lstrip("\n")
    first, _, rest = stripped.partition("\n")
    if first.startswith("# ") and first[2:].strip(" #") == title:
        return rest
    return text


def render(text: str) -> Rendered:
    """Render projected Markdown to sanitized HTML (cached by content hash)."""
    key = hashlib.sha256((RENDERER_DIGEST + "\0" + text).encode("utf-8", "replace")).digest()
    hit = _cache.get(key)
    if hit is None:
        hit = _load_shared(key.hex())
        if hit is None:
            hit = _render(text)
            _store_shared(key.hex(), hit)
        _cache.put(key, hit)
    return hit


def _render(text: str) -> Rendered:
    md = _markdown()
    md.reset()
    try:
        html = md.convert(text)
        toc = tuple(_flatten(getattr(md, "toc_tokens", []), []))
    except Exception:
        html = "<pre>" + nh3.clean_text(text) + "</pre>"
        toc = ()
    return Rendered(scrolling_tables(sanitize(html)), toc)


_TABLE_OPEN_RE = re.compile(r"<table\b[^>]*>")
SCROLLER = ('<div class="table-scroll" role="region" tabindex="0" '
            'aria-label="Table, scrolls sideways">')


def scrolling_tables(html: str) -> str:
    """Wrap each table of sanitized HTML in a focusable region that scrolls sideways, so a
    wide table never widens the page (320 px screens, 200 % zoom) and keyboards can scroll it.
    Runs after the sanitizer: authors cannot write these attributes themselves."""
    if "<table" not in html:
        return html
    html = _TABLE_OPEN_RE.sub(lambda m: SCROLLER + m.group(0), html)
    return html.replace("</table>", "</table></div>")


# -- the shared tier: rendered pages on disk, for every worker ---------------------------------
SHARED_DAYS = 2  # entries unused for longer are pruned (re-rendered if ever needed again)
_shared: dict[str, object] = {}


def init_app(app) -> None:
    _shared["root"] = Path(app.config["KB_DATA_DIR"]) / "render"
    _shared["key"] = sharedfiles.signing_key(app.config["SECRET_KEY"], "render cache")


def _shared_path(hexkey: str) -> Path | None:
    root = _shared.get("root")
    return root / hexkey[:2] / hexkey if isinstance(root, Path) else None


def _load_shared(hexkey: str) -> Rendered | None:
    path = _shared_path(hexkey)
    data = sharedfiles.read(path, key=_shared["key"]) if path is not None else None
    try:
        return Rendered(data["html"], tuple((lvl, i, t) for lvl, i, t in data["toc"]))
    except (KeyError, TypeError, ValueError):  # absent, or damaged: render
        return None


def _store_shared(hexkey: str, result: Rendered) -> None:
    path = _shared_path(hexkey)
    if path is not None:  # a full or read-only disk: pages still render, just not shared
        sharedfiles.write(path, {"html": result.html, "toc": result.toc},
                          keep_seconds=SHARED_DAYS * 86400, key=_shared["key"])
