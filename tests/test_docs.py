"""Every setting, front matter field, CLI command and URL is documented in the README; the
editor's form fields in docs/editing.md; every cache in docs/architecture.md."""

import re
from pathlib import Path

import pytest

from app.config import SETTINGS
from app.content.store import META_FIELDS

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def test_readme_starts_with_the_two_commands():
    commands = [line.split("#")[0].strip() for line in README.splitlines()[2:4]]
    assert commands == ["make run", "make test"]


@pytest.mark.parametrize("name", sorted(SETTINGS))
def test_setting_documented(name):
    assert f"`{name}`" in README


@pytest.mark.parametrize("field", META_FIELDS)
def test_front_matter_field_documented(field):
    assert f"| `{field}` |" in README


def test_cli_commands_documented(app):
    for group in ("kb", "users"):
        for name in app.cli.commands[group].commands:
            assert f"`{name}" in README or f"`{group} {name}" in README, f"{group} {name}"


def test_urls_documented(app):
    skip = {"/static/<path:filename>", "/robots.txt"}
    for rule in app.url_map.iter_rules():
        if rule.rule in skip:
            continue
        documented = rule.rule.replace("<path:slug>", "<slug>").replace("<slug>", "<slug>")
        assert f"`{documented}`" in README or f"`{documented}?" in README, rule.rule


DOCS = Path(__file__).resolve().parent.parent / "docs"
APP = Path(__file__).resolve().parent.parent / "app"


@pytest.mark.parametrize("name", ["deploying", "editing", "search", "architecture",
                                  "performance"])
def test_docs_exist_and_the_readme_points_at_them(name):
    assert (DOCS / f"{name}.md").is_file()
    assert f"docs/{name}.md" in README


def test_readme_is_short():
    assert len(README.splitlines()) <= 250


def test_every_cache_is_in_the_architecture_table():
    """Each ``name = SizedLRU(...)`` outside search (which docs/search.md lists) has a row."""
    table = (DOCS / "architecture.md").read_text()
    for path in APP.rglob("*.py"):
        if path.parent.name in {"caching", "search"}:
            continue
        module = ".".join(path.relative_to(APP).with_suffix("").parts)
        for name in re.findall(r"(\w+) = SizedLRU\(", path.read_text()):
            assert f"`{module}.{name}`" in table or f"(`{name}`)" in table, f"{module}.{name}"


def test_editor_form_fields_documented():
    from app.editing.form import FIELDS

    editing = (DOCS / "editing.md").read_text()
    for field in FIELDS:
        assert f"`{field}`" in editing, field
