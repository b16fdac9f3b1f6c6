"""Parsing documents and the slug allow-list."""

import datetime as dt

import pytest

from app.content.store import ContentStore, is_safe_slug, parse
from tests.conftest import git


def test_front_matter_fields():
    doc = parse(b"---\ntitle: Refunds\naudience: public\ntags: [Money, orders]\n"
                b"effective: 2026-03-01\nreview_by: 2027-03-01\nowner: a@b.c\n---\nBody\n",
                kind="policy", slug="refunds", path="policies/refunds.md")
    assert doc.title == "Refunds"
    assert doc.is_public
    assert doc.tags == ["money", "orders"]
    assert doc.effective == dt.date(2026, 3, 1)
    assert doc.review_by == dt.date(2027, 3, 1)
    assert doc.owner == "a@b.c"
    assert doc.body == "Body\n"
    assert doc.body_start == 9
    assert not doc.problems


@pytest.mark.parametrize("text, title", [
    (b"# Handbook page\n\nText", "Handbook page"),
    (b"Just text, no heading", "Return policy"),
    (b"", "Return policy"),
])
def test_no_front_matter_is_internal_and_titled(text, title):
    doc = parse(text, kind="policy", slug="return_policy", path="return_policy.md")
    assert doc.audience == "internal"
    assert doc.title == title
    assert not doc.problems


@pytest.mark.parametrize("text, fragment, line", [
    (b"---\ntitle: [oops\naudience: public\n---\nx", "not valid YAML", 3),
    (b"---\ntitle: t\naudience: everyone\n---\nx", "audience must be public or internal", 3),
    (b"---\n- a\n- b\n---\nx", "must be a mapping", 2),
    (b"---\naudience: public\neffective: next week\n---\nx", "effective must be a date", 3),
    (b"---\ntitle: x\n", "never closed", 1),
    (b"\xff\xfe bad bytes", "not valid UTF-8", 1),
    (b"\x00\x01\x02binary", "binary file", None),
])
def test_malformed_documents_report_file_and_line(text, fragment, line):
    doc = parse(text, kind="policy", slug="bad", path="policies/bad.md")
    assert doc.problems, "a problem must be reported"
    problem = doc.problems[0]
    assert fragment in problem.message
    assert problem.line == line
    assert str(problem).startswith("policies/bad.md")
    assert doc.audience == "internal", "broken documents fail closed"


@pytest.mark.parametrize("slug, ok", [
    ("refunds", True),
    ("agents/log-credit", True),
    ("Employee_Handbook.v2", True),
    ("..", False),
    ("../secret", False),
    ("a/../b", False),
    (".git/config", False),
    ("a\\b", False),
    ("a\x00b", False),
    ("%2e%2e", False),
    ("/etc/passwd", False),
    ("a//b", False),
    ("refunds.md", False),
    ("", False),
    ("a b", False),
])
def test_slug_allow_list(slug, ok):
    assert is_safe_slug(slug) is ok


def _commit_all(root, message="Change"):
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message)


def test_store_lists_and_caches(content_dir):
    store = ContentStore(content_dir)
    docs = store.all()
    assert {d.url for d in docs} >= {"/policies/refunds", "/faq/track-order",
                                     "/faq/agents/log-credit"}
    assert store.get("policy", "refunds") is store.get("policy", "refunds")  # cached
    (content_dir / "policies" / "refunds.md").write_text("---\ntitle: New\n---\nx")
    assert store.get("policy", "refunds").title == "Refunds"  # not committed: not served
    _commit_all(content_dir)
    assert store.get("policy", "refunds").title == "New"  # commits show without restart


def test_store_refuses_huge_files(content_dir):
    (content_dir / "policies" / "huge.md").write_bytes(b"---\naudience: public\n---\n"
                                                      + b"a" * 5_000_000)
    _commit_all(content_dir)
    doc = ContentStore(content_dir).get("policy", "huge")
    assert doc.audience == "internal"
    assert "limit" in doc.problems[0].message


def test_symlink_outside_root_is_not_served(content_dir, tmp_path):
    secret = tmp_path / "outside.md"
    secret.write_text("---\naudience: public\n---\nsecret")
    (content_dir / "policies" / "link.md").symlink_to(secret)
    (content_dir / "policies" / "inside.md").symlink_to("refunds.md")
    _commit_all(content_dir)
    store = ContentStore(content_dir)
    # A committed symlink is a path, never followed, inside the root or out of it.
    assert store.get("policy", "link") is None and store.get("policy", "inside") is None
    assert not {"policies/link.md", "policies/inside.md"} & {d.path for d in store.all()}
    assert {"policies/link.md", "policies/inside.md"} <= set(store.unsafe_files())


@pytest.mark.parametrize("swap", ["file", "folder"])
def test_a_served_file_swapped_for_a_symlink_outside_is_not_served(content_dir, tmp_path,
                                                                   swap):
    """The parse is reused only for the very same file: a swap is checked afresh."""
    import shutil

    outside = tmp_path / "outside"
    (outside / "policies").mkdir(parents=True)
    # Same size and time as the real file: only its identity (device, inode) differs.
    shutil.copy2(content_dir / "policies" / "refunds.md", outside / "policies" / "refunds.md")
    store = ContentStore(content_dir)
    assert store.get("policy", "refunds") is not None  # parsed and remembered
    if swap == "file":
        (content_dir / "policies" / "refunds.md").unlink()
        (content_dir / "policies" / "refunds.md").symlink_to(outside / "policies" / "refunds.md")
    else:
        shutil.rmtree(content_dir / "policies")
        (content_dir / "policies").symlink_to(outside / "policies")
    assert store.get("policy", "refunds") is not None  # the work tree is not what is served
    _commit_all(content_dir)
    assert store.get("policy", "refunds") is None


def test_plain_handbook_layout(tmp_path):
    root = tmp_path / "handbook"
    (root / "people").mkdir(parents=True)
    (root / "people" / "leave.md").write_text("# Leave\n\nTwenty days.")
    (root / "intro.md").write_text("# Welcome\n")
    git(root, "init", "-q", "-b", "main")
    git(root, "-c", "user.name=x", "-c", "user.email=x@y", "add", "-A")
    git(root, "-c", "user.name=x", "-c", "user.email=x@y", "commit", "-q", "-m", "Handbook")
    store = ContentStore(root)
    assert sorted(d.url for d in store.all()) == ["/policies/intro", "/policies/people/leave"]
    assert store.get("policy", "people/leave").title == "Leave"


@pytest.mark.parametrize("meta", [
    {"title": "Refunds", "audience": "public", "tags": ["money", "orders"],
     "effective": dt.date(2026, 1, 1)},
    {"title": "Ünïcödé — “quotes” 'single': colon", "summary": "x " * 120,
     "tags": ["a b", "c:d", "é"], "owner": "a@b.example"},
    {"title": "# not a comment", "summary": "line1\nline2", "custom": "yes",
     "number": 3, "star": "*bold*", "lead": " leading space"},
])
def test_front_matter_is_written_as_pythons_yaml_writer_would(meta):
    """Front matter is written with libyaml for speed; the text must not change."""
    import yaml

    from app.content.document import compose

    expected = yaml.safe_dump(meta, sort_keys=False, allow_unicode=True,
                              default_flow_style=None)
    front = compose(meta, "Body\n").split("---\n")[1]
    assert yaml.safe_load(front) == meta
    ordered_keys = list(yaml.safe_load(front))
    assert front == yaml.safe_dump({k: meta[k] for k in ordered_keys}, sort_keys=False,
                                   allow_unicode=True, default_flow_style=None)
    assert sorted(front.splitlines()) == sorted(expected.splitlines())
