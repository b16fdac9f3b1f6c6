"""Seeding a new portal: the bundled content arrives with a realistic history."""

import pytest
import yaml

from app.cli.seed import SeedError, earliest_texts, message_for, seed_repository
from app.config import BUNDLED_CONTENT, SEED_HISTORY
from app.repo.gitrepo import GitRepo
from tests.conftest import git


def test_seed_replays_history_and_ends_at_the_bundled_files(tmp_path):
    repo = GitRepo(tmp_path / "content")
    steps = yaml.safe_load(SEED_HISTORY.read_text())
    assert seed_repository(repo, BUNDLED_CONTENT, SEED_HISTORY) == len(steps)
    assert git(repo.root, "rev-list", "--count", "HEAD").strip() == str(len(steps))
    assert git(repo.root, "status", "--porcelain") == ""
    first = git(repo.root, "rev-list", "--max-parents=0", "HEAD").strip()
    warranty_then = git(repo.root, "show", f"{first}:policies/warranty.md")
    assert "audience: internal" in warranty_then  # became public later
    refunds_then = git(repo.root, "show", f"{first}:policies/refunds.md")
    assert "31 to 45 days after delivery" in refunds_then
    material = [s for s in steps if s.get("material")]
    assert repo.changes.last_material("policies/refunds.md") is not None
    assert len(material) >= 3


def test_trailers():
    assert message_for({"message": "Fix", "material": True, "public_note": "New\n window"}) == (
        "Fix\n\nMaterial: yes\nPublic-Note: New window")
    assert message_for({"message": "Typo"}) == "Typo\n\nMaterial: no"


def test_inconsistent_history_is_refused(tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    (source / "a.md").write_text("new text")
    steps = [{"message": "one"}, {"message": "two",
                                  "changes": {"a.md": [{"before": "x", "after": "missing"}]}}]
    with pytest.raises(SeedError, match="does not contain"):
        earliest_texts(source, steps)
