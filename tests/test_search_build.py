"""A full build makes exactly the records the simple, slow way makes.

The build takes short cuts (one record set for both indexes when the views are equal, a
projection and a section split that skip what cannot match, ``data`` written out instead of
``json.dumps``); each must give the same records, byte for byte, as the reference below (the
code they replaced), or ranking would change.
"""

import json
import re

import pytest
import tantivy
from hypothesis import given, settings
from hypothesis import strategies as st

from app.content.audience import PUBLIC, STAFF, project, project_body, split_blocks
from app.content.document import parse
from app.content.mdlines import with_code_flags
from app.content.render import section_id, without_title
from app.history.in_force import InForce
from app.search import build as search_build
from app.search import index as si

# -- the reference: records as they were made before the short cuts -------------------------
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_MARKUP = re.compile(r"<[^>]{0,200}>|\{%.{0,300}?%\}|[*_`]+|^[!?]{3}[ \t]*[\w-]+"
                     r"|^[ \t]*[:|>-]+[ \t]*", re.M)
_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t#]*$")


def ref_plain(markdown):
    return _MARKUP.sub(" ", _LINK.sub(r"\1", markdown))


def ref_sections(body):
    used, heads, every, chunks = {}, [], [], [[]]
    for line, code in with_code_flags(body.splitlines()):
        if not code and (match := _HEADING.match(line)):
            text = re.sub(r"\s+", " ", ref_plain(match.group(2))).strip()
            sid = section_id(text, used)
            every.append(text)
            if len(match.group(1)) <= 2:
                heads.append((sid, text))
                chunks.append([])
                continue
        chunks[-1].append(line)
    sections = [(sid, text, ref_plain("\n".join(lines)))
                for (sid, text), lines in zip(heads, chunks[1:], strict=True)]
    return ref_plain("\n".join(chunks[0])), sections, every


def ref_project_body(body, sees_internal):
    out = []
    for block in split_blocks(body)[0]:
        if not block.internal:
            out.extend(block.lines)
        elif sees_internal:
            out.extend(["", '!!! agents-only "Agents only"'])
            out.extend(("    " + line) if line.strip() else "" for line in block.lines)
            out.append("")
        else:
            out.append("")
    return "\n".join(out) + "\n"


def ref_records(doc, viewer):
    shown = project(doc, viewer=viewer)
    if shown is None:
        return []
    intro, sections, headings = ref_sections(without_title(shown.body, shown.title))
    front = " ; ".join(t for t in (si._front(shown.meta, n) for n in si.FRONT_WORDS) if t)
    meta = " ; ".join(t for t in (shown.summary, front, " ; ".join(shown.tags),
                                  si.slug_words(doc.path)) if t)
    top = (shown.summary + "\n" + intro).strip()

    def record(level, rid, url, section, text, **fields):
        data = {"id": rid, "url": url, "doc_title": shown.title, "section": section,
                "text": text, "kind": doc.kind, "audience": shown.audience}
        return {"path": doc.path, "docno": si.docno(doc.path), "level": level,
                "kind": doc.kind, "tags": [t.lower() for t in shown.tags],
                "data": json.dumps(data).encode(), **fields}

    whole = "\n".join([intro, *(f"{h}\n{t}" for _s, h, t in sections)])
    out = [record("doc", doc.path, shown.url, "", top[:4000], title=shown.title, meta=meta,
                  heading="\n".join(headings), body=whole,
                  words="\n".join([shown.title, meta, *headings, whole])),
           record("place", doc.path, shown.url, "", top[:4000], title=shown.title,
                  meta=meta, body=intro)]
    for sid, heading, text in sections:
        out.append(record("place", f"{doc.path}#{sid}", f"{shown.url}#{sid}", heading,
                          text[:8000], title=shown.title, heading=heading, body=text))
    return out


# -- generated documents ----------------------------------------------------------------------
LINES = st.sampled_from([
    "Plain words here.", "# Title", "## Scope", "## Scope", "### Detail **bold**", "#nohash",
    "## Ünïcode héading", "```", "~~~", "    ```", "- item", "  - nested", "> quote",
    ":: colons", "::: internal", ":::", "!!! note \"Note\"", "!!! agents-only", "    body",
    "| a | b |", "|---|---|", "**Bold question?**", "_em_ and `code`", "{% include x %}",
    "a [link](/policies/x) and ![img](/i.png)", "<b>tag</b>", "text < other", "quote \" \\",
    "tab\there", "\u2028sep", "\x0bform", "", "caf\u00e9 \u20ac5", "\U0001f600 smile",
])
FRONT = st.sampled_from([
    "", "summary: A summary.\n", "keywords: [alpha, beta]\n", "aliases: other name\n",
    "tags: [Refunds, faq]\n", "effective: 2030-01-01\n", "owner: x@example.com\n",
    "title: \"Quoted \\\"title\\\"\"\n",
])


@st.composite
def documents(draw):
    audience = draw(st.sampled_from(["public", "internal"]))
    front = "".join(draw(st.lists(FRONT, max_size=4, unique=True)))
    body = "\n".join(draw(st.lists(LINES, max_size=25)))
    text = f"---\naudience: {audience}\n{front}---\n{body}\n"
    kind = draw(st.sampled_from(["policy", "faq"]))
    return parse(text.encode(), kind=kind, slug="a-b_c.d", path=f"{kind}/a-b_c.d.md")


@settings(max_examples=300, deadline=None)
@given(documents())
def test_records_are_the_reference_records(doc):
    for viewer in (PUBLIC, STAFF):
        assert si.records(doc, viewer) == ref_records(doc, viewer)


def built(docs, dates, tmp_path, monkeypatch):
    """Index name -> the tantivy records a build hands to that index's writer, in order."""
    import threading

    sent = {"kb-build-staff": [], "kb-build-public": []}
    real = search_build.add

    def add(writer, record):
        sent[threading.current_thread().name].append(record)
        real(writer, record)

    monkeypatch.setattr(search_build, "add", add)
    counts = search_build.build(tmp_path / "index", docs, "", dates)
    out = {"staff": sent["kb-build-staff"], "public": sent["kb-build-public"]}
    assert counts == {name: len(recs) for name, recs in out.items()}
    return out


def expected(docs, dates):
    """The records each index should get: every document record, then every place."""
    out = {}
    for name in ("staff", "public"):
        recs = []
        for doc in docs:
            version = dates.public_version(doc) if name == "public" else doc
            recs += ref_records(version, si.AUDIENCES[name]) if version is not None else []
        recs.sort(key=lambda r: r["level"] != "doc")  # stable: each kind in document order
        out[name] = [tantivy.Document.from_dict(r, si.SCHEMA) for r in recs]
    return out


@settings(max_examples=40, deadline=None)
@given(st.lists(documents(), min_size=1, max_size=4), st.booleans())
def test_a_build_writes_each_view_s_own_records(tmp_path_factory, docs, upcoming):
    """Shared or not, each index gets the records of its own view (the public one of the
    version in force), documents first, in the order given."""
    docs = [parse(f"---\naudience: {d.audience}\n---\n{d.body}".encode(), kind=d.kind,
                  slug=f"{d.slug}{n}", path=f"{d.path[:-3]}{n}.md") if n else d
            for n, d in enumerate(docs)]
    older = parse(b"---\naudience: public\n---\nOlder text.\n## Old\nold words\n",
                  kind=docs[0].kind, slug=docs[0].slug, path=docs[0].path)
    dates = InForce({docs[0].path: older if len(docs) % 2 else None}) if upcoming else InForce()
    with pytest.MonkeyPatch.context() as patch:
        got = built(docs, dates, tmp_path_factory.mktemp("b"), patch)
    assert got == expected(docs, dates)


def test_the_views_share_records_only_when_equal(tmp_path, monkeypatch):
    plain = parse(b"---\naudience: public\n---\nWords.\n## A\ntext\n", kind="policy",
                  slug="p", path="policies/p.md")
    hidden = parse(b"---\naudience: public\n---\nWords.\n::: internal\nsecret\n:::\n",
                   kind="policy", slug="h", path="policies/h.md")
    keywords = parse(b"---\naudience: public\nkeywords: [staffword]\n---\nWords.\n",
                     kind="policy", slug="k", path="policies/k.md")
    got = built([plain, hidden, keywords], InForce(), tmp_path, monkeypatch)
    # plain's two records, then hidden's and keywords' document records
    assert got["public"][0] is got["staff"][0]
    assert got["public"][1] is not got["staff"][1] and got["public"][2] is not got["staff"][2]
    assert got == expected([plain, hidden, keywords], InForce())


def test_dates_may_come_while_the_staff_records_are_written(tmp_path, monkeypatch):
    doc = parse(b"---\naudience: public\neffective: 2999-01-01\n---\nNew.\n", kind="faq",
                slug="n", path="faq/n.md")
    dates = InForce({doc.path: None})
    asked = []

    def later():
        asked.append(True)
        return dates

    got = built([doc], later, tmp_path, monkeypatch)
    assert asked == [True] and got["public"] == [] and len(got["staff"]) == 2


@settings(max_examples=500, deadline=None)
@given(st.lists(LINES, max_size=30), st.booleans())
def test_projection_and_plain_text_match_the_reference(lines, sees_internal):
    body = "\n".join(lines)
    assert project_body(body, sees_internal=sees_internal) == ref_project_body(body,
                                                                                sees_internal)
    assert si.plain(body) == ref_plain(body)
    intro, sections, every = si.split_sections(body)
    assert (intro, [(s.id, s.heading, s.text) for s in sections], every) == ref_sections(body)


def test_data_is_what_json_dumps_writes():
    doc = parse('---\naudience: public\ntitle: "Q \\" \\\\ \u00e9 \U0001f600"\n---\n'
                "Intro \u2028 \x01 text.\n## S\u00e9c \"q\"\nbody \\ \u20ac\n".encode(),
                kind="faq", slug="q", path="faq/q.md")
    for rec in si.records(doc, PUBLIC):
        assert rec["data"] == json.dumps(json.loads(rec["data"])).encode()


# -- front matter read without YAML -----------------------------------------------------------
SIMPLE = st.sampled_from([
    "Refund policy", "How we handle it.", "erik@example.com", "2026-04-12", "x, y", "don't",
    "A/B & C", "why?", "wow!", "[Refunds, faq]", "[]", "[a b, c-d]", "[ a , b ]", "a_b",
])
ODD = st.sampled_from([
    "yes", "No", "on", "OFF", "null", "Null", "true", "2026-13-01", "2026-4-1", "12", "1.5",
    "0x1f", "~", "-", "a: b", "a #c", "a#c", "'quoted'", '"quoted"', "a  b", "(a)",
    "[ ]", "[a,]", "[yes, b]", "[a, [b]]", "[1, 2]", "caf\u00e9", "a\tb", "a ", "", "{a: b}",
    "*alias", "&anchor x", "!tag x", "| text", "> text", "e5", ".inf", "_a", "%x", "a:b",
])
SCALARS = st.one_of(SIMPLE, SIMPLE, SIMPLE, ODD)
SEPARATORS = st.sampled_from([": "] * 12 + [":", ":  ", " : "])
KEYS = st.sampled_from(["title", "summary", "tags", "effective", "owner", "review_by", "a_b",
                        "_x", "Title", "title", "on", "yes", "null", "1a"])


@settings(max_examples=1000, deadline=None)
@given(st.lists(st.tuples(KEYS, SCALARS, SEPARATORS), max_size=5))
def test_simple_front_matter_reads_as_yaml_does(fields):
    import yaml

    from app.content.frontmatter import simple

    text = "\n".join(f"{k}{sep}{v}" for k, v, sep in fields)
    fast = simple(text)
    if fast is None:
        return  # the caller asks YAML
    assert fast == yaml.load(text, Loader=yaml.SafeLoader)
    assert [type(v) for v in fast.values()] == [
        type(v) for v in yaml.load(text, Loader=yaml.SafeLoader).values()]


def test_the_usual_front_matter_is_read_without_yaml():
    import yaml

    from app.content.frontmatter import simple

    usual = ("title: Regional Accessibility Support 00039\nsummary: How we handle it.\n"
             "audience: public\nowner: erik@example.com\ntags: [faq, accessibility-support]\n"
             "effective: 2026-04-12\nreview_by: 2027-04-12")
    assert simple(usual) == yaml.load(usual, Loader=yaml.SafeLoader)
    for value in SIMPLE.elements:
        text = f"title: {value}"
        assert simple(text) == yaml.load(text, Loader=yaml.SafeLoader), value
    for value in ODD.elements:  # left to YAML (which may refuse it), or read alike
        text = f"title: {value}"
        fast = simple(text)
        assert fast is None or fast == yaml.load(text, Loader=yaml.SafeLoader), value
