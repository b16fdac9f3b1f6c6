"""Markdown -> safe HTML.

Input is text that ``audience.project`` already filtered.  The pipeline is Python-Markdown
(tables, fenced code, toc with permalinks, admonitions, definition lists, task lists,
footnotes) followed by nh3 with an allow-list of tags and attributes and a URL filter.
Every ``id`` and in-page ``#link`` gets a prefix so an author cannot clobber the page's own
ids (``#q``, ``#main``).  Results are cached by a hash of the input: in each worker's
memory, and on disk under ``KB_DATA_DIR/render/`` so that when a save changes a page, one
worker renders it and the others read the result (rendering a policy page costs a few
milliseconds; every gunicorn worker used to pay that for every changed page).
"""

from __future__ import annotations

import hashlib
import re
import threading
import unicodedata
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import markdown
import nh3
from markdown.treeprocessors import InlineProcessor

from app.caching import sharedfiles

ID_PREFIX = "sec-"
RENDERER_VERSION = "2"  # 2: tables wrapped in a scrolling region

ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "caption", "code", "dd", "del", "details", "div",
    "dl", "dt", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "input", "ins",
    "kbd", "li", "mark", "ol", "p", "pre", "q", "s", "small", "span", "strong", "sub",
    "summary", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "u", "ul",
}
ALLOWED_ATTRIBUTES = {
    "*": {"class", "id", "title"},
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


def _attribute_filter(tag: str, attr: str, value: str) -> str | None:
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
    return _cleaner.clean(html)


def slugify(value: str, separator: str = "-") -> str:
    """Heading id (without prefix); shared with the search index so links land exactly."""
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
    "pymdownx.superfences", "pymdownx.tasklist",
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


class _LRU(OrderedDict):
    def __init__(self, size: int):
        super().__init__()
        self.size = size
        self.lock = threading.Lock()

    def get_item(self, key):
        with self.lock:
            if key in self:
                self.move_to_end(key)
                return self[key]
        return None

    def put(self, key, value):
        with self.lock:
            self[key] = value
            if len(self) > self.size:
                self.popitem(last=False)


_cache = _LRU(2048)


def without_title(text: str, title: str) -> str:
    """Drop a leading ``# title`` line: the page header already shows the title."""
    stripped = text.lstrip("\n")
    first, _, rest = stripped.partition("\n")
    if first.startswith("# ") and first[2:].strip(" #") == title:
        return rest
    return text


def render(text: str) -> Rendered:
    """Render projected Markdown to sanitized HTML (cached by content hash)."""
    key = hashlib.sha256((RENDERER_VERSION + "\0" + text).encode("utf-8", "replace")).digest()
    hit = _cache.get_item(key)
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
_shared: dict[str, Path] = {}


def init_app(app) -> None:
    _shared["root"] = Path(app.config["KB_DATA_DIR"]) / "render"


def _shared_path(hexkey: str) -> Path | None:
    root = _shared.get("root")
    return root / hexkey[:2] / hexkey if root else None


def _load_shared(hexkey: str) -> Rendered | None:
    path = _shared_path(hexkey)
    data = sharedfiles.read(path) if path is not None else None
    try:
        return Rendered(data["html"], tuple((lvl, i, t) for lvl, i, t in data["toc"]))
    except (KeyError, TypeError, ValueError):  # absent, or damaged: render
        return None


def _store_shared(hexkey: str, result: Rendered) -> None:
    path = _shared_path(hexkey)
    if path is not None:  # a full or read-only disk: pages still render, just not shared
        sharedfiles.write(path, {"html": result.html, "toc": result.toc},
                          keep_seconds=SHARED_DAYS * 86400)
