"""Diffs: word-level highlighting, folding, rendered-text mode, escaping."""

from __future__ import annotations

import pytest

from app.history.diffing import blocks, diff


def test_word_level_highlight_in_changed_line():
    result = diff("Refunds within 30 days.\n", "Refunds within 45 days.\n")
    (row,) = result.rows
    assert row.op == "change" and (result.added, result.removed) == (1, 1)
    assert str(row.left) == "Refunds within <del>30</del> days."
    assert str(row.right) == "Refunds within <ins>45</ins> days."


def test_long_unchanged_runs_are_folded():
    old = "\n".join(f"line {i}" for i in range(40))
    new = old.replace("line 20", "line twenty")
    ops = [r.op for r in diff(old, new).rows]
    assert ops.count("change") == 1 and ops.count("skip") == 2
    assert ops.count("equal") == 6  # three lines of context on each side


@pytest.mark.parametrize(("old", "new", "expected"), [
    ("a\n", "a\nb\n", ["equal", "insert"]),
    ("a\nb\n", "a\n", ["equal", "delete"]),
    ("", "", []),
])
def test_inserts_and_deletes(old, new, expected):
    assert [r.op for r in diff(old, new).rows] == expected


def test_rendered_mode_compares_reader_text():
    old = "## Window\n\nYou have **30** days.\n\n| a | b |\n|---|---|\n| 1 | 2 |\n"
    new = old.replace("**30**", "**45**")
    result = diff(old, new, mode="rendered")
    changed = [r for r in result.rows if r.op == "change"]
    assert len(changed) == 1 and "**" not in str(changed[0].right)
    assert "<ins>45</ins>" in str(changed[0].right)
    assert not diff(old, old.replace("**30**", "__30__"), mode="rendered").changed


def test_markup_is_escaped():
    result = diff("<b>x</b>\n", "<script>alert(1)</script>\n")
    assert "<script>" not in str(result.rows[0].right)
    assert "&lt;" in str(result.rows[0].right)


def test_blocks_keep_fenced_code_together():
    text = "Intro\n\n```\ncode\n\nmore code\n```\n\nEnd\n"
    assert blocks(text) == ["Intro", "```\ncode\n\nmore code\n```", "End"]
