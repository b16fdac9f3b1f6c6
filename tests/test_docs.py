"""Every setting, front matter field, CLI command and URL is documented in the README."""

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
