"""Approval rules: ``workflow.yml`` in the content repository, and which changes they gate.

With no file, a change to what customers can read -- the public projection of a public
document, a document becoming public or leaving public -- needs one approval by someone
other than its author; a change to internal text only publishes directly.  The file::

    approvals: 1                 # approvals a gated change needs: 1 or 2 (default 1)
    folders:                     # path prefixes in the content repository
      policies/refunds:          # policies/refunds.md and everything under policies/refunds/
        internal: true           # internal-only changes need approval too (default false)
        approvers: [alice, bob]  # only these users may approve (default: any approver, admin)
        approvals: 2             # overrides the top-level number

The most specific folder wins.  A file that cannot be used is reported (``kb check``, the
proposal queue) and the default rules apply until it is fixed; an unknown user named as an
approver is reported and left out.  See docs/approvals.md.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import yaml

from app.content.audience import PUBLIC, as_read, project
from app.content.store import compose, parse, repo, store

FILE = "workflow.yml"
_TOP = {"approvals", "folders"}
_FOLDER = {"internal", "approvers", "approvals"}


@dataclass(frozen=True)
class Rule:
    internal: bool = False  # internal-only changes need approval too
    approvers: tuple[str, ...] = ()  # empty: any approver or admin
    approvals: int = 1


@dataclass
class Workflow:
    default: Rule = field(default_factory=Rule)
    folders: dict[str, Rule] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def rule_for(self, path: str) -> Rule:
        best, best_len = self.default, -1
        for prefix, rule in self.folders.items():
            if (path == prefix or path == f"{prefix}.md" or path.startswith(f"{prefix}/")) \
                    and len(prefix) > best_len:
                best, best_len = rule, len(prefix)
        return best


@dataclass
class Decision:
    """What a set of changes needs before it may publish."""

    gated: bool = False
    approvals: int = 0
    approvers: tuple[str, ...] | None = None  # None: any approver or admin
    reasons: list[str] = field(default_factory=list)

    def may_approve(self, username: str) -> bool:
        if self.approvers is None:
            return True
        return username.lower() in {a.lower() for a in self.approvers}


def _count(value, where: str, problems: list[str], fallback: int) -> int:
    if value is None:
        return fallback
    if isinstance(value, bool) or value not in (1, 2):
        problems.append(f"{where}: approvals must be 1 or 2")
        return fallback
    return value


def parse_rules(text: str, known_users: Iterable[str] | None = None) -> Workflow:
    """Rules from the text of ``workflow.yml``; problems listed, defaults where unusable."""
    problems: list[str] = []
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        return Workflow(problems=[f"{FILE} is not valid YAML{where}; the default rules apply"])
    if data is None:
        return Workflow()
    if not isinstance(data, dict):
        return Workflow(problems=[f"{FILE} must be a mapping (approvals:, folders:); "
                                  "the default rules apply"])
    problems.extend(f"{FILE}: unknown key {key!r} (expected approvals, folders)"
                    for key in data if key not in _TOP)
    default = Rule(approvals=_count(data.get("approvals"), FILE, problems, 1))
    folders_data = data.get("folders") or {}
    if not isinstance(folders_data, dict):
        problems.append(f"{FILE}: folders must map a folder to its rules; ignored")
        folders_data = {}
    known = {u.lower() for u in known_users} if known_users is not None else None
    folders: dict[str, Rule] = {}
    for prefix, spec in folders_data.items():
        where = f"{FILE}: folder {prefix!r}"
        name = str(prefix).strip().strip("/")
        if not name or ".." in name.split("/"):
            problems.append(f"{where} is not a folder of the repository; ignored")
            continue
        if spec is None:
            spec = {}
        if not isinstance(spec, dict):
            problems.append(f"{where} must map internal/approvers/approvals; ignored")
            continue
        problems.extend(f"{where}: unknown key {key!r} (expected internal, approvers, "
                        "approvals)" for key in spec if key not in _FOLDER)
        internal = spec.get("internal", False)
        if not isinstance(internal, bool):
            problems.append(f"{where}: internal must be true or false")
            internal = False
        approvers = spec.get("approvers") or []
        if isinstance(approvers, str):
            approvers = [approvers]
        if not isinstance(approvers, list) or not all(isinstance(a, str) for a in approvers):
            problems.append(f"{where}: approvers must be a list of user names; ignored")
            approvers = []
        if known is not None:
            unknown = [a for a in approvers if a.lower() not in known]
            problems.extend(f"{where}: approver {a!r} is not a user; left out"
                            for a in unknown)
            approvers = [a for a in approvers if a.lower() in known]
            if spec.get("approvers") and not approvers:
                problems.append(f"{where}: no approver left; any approver or admin may "
                                "approve")
        folders[name] = Rule(internal=internal, approvers=tuple(approvers),
                             approvals=_count(spec.get("approvals"), where, problems,
                                              default.approvals))
    return Workflow(default=default, folders=folders, problems=problems)


def load(known_users: Iterable[str] | None = None) -> Workflow:
    """The rules in force: ``workflow.yml`` as committed on the main branch (an uncommitted
    edit in the work tree changes nothing)."""
    git = repo()
    data = git.read_file(git.head(), FILE)
    if data is None:
        return Workflow()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return Workflow(problems=[f"{FILE} is not UTF-8 text; the default rules apply"])
    return parse_rules(text, known_users)


NEW = ("Saving publishes at once when only internal text changes; a change to what customers "
       "can read becomes a proposal that needs approval first.")


def message(decision: Decision, existing=None) -> str:
    """What saving will do, said to the editor before they press Save."""
    if existing is not None:
        return (f"Saving adds a version to your proposal #{existing.id}; it publishes once "
                "approved.")
    if decision.gated:
        count = decision.approvals
        return (f"Saving makes a proposal: this change needs {count} approval"
                f"{'' if count == 1 else 's'} before it goes live ("
                + "; ".join(decision.reasons) + ").")
    return "Saving publishes at once: this change needs no approval."


def public_text(path: str, data: bytes | None) -> str | None:
    """What customers can read of the file at ``path`` with content ``data`` (None: nothing,
    the document is internal or absent)."""
    if data is None:
        return None
    located = store().locate(path)
    if located is None:
        return None
    kind, slug = located
    doc = project(parse(data, kind=kind, slug=slug, path=path), viewer=PUBLIC)
    if doc is None:
        return None
    # An empty field reads as a missing one (the form writes ``summary: ''``, ``tags: []``).
    meta = {k: v for k, v in doc.meta.items() if v not in ("", None, [], {})}
    return compose(meta, as_read(doc.body))


def decide(changes: dict[str, tuple[bytes | None, bytes | None]], rules: Workflow) -> Decision:
    """Does this change set (path -> (old, new) bytes) need approval, and by whom?"""
    decision = Decision()
    named: set[str] | None = None
    for path, (old, new) in changes.items():
        if old == new:
            continue
        rule = rules.rule_for(path)
        if not path.endswith(".md") or store().locate(path) is None:
            reason = f"{path} is not a document (site files change for everyone)"
        elif public_text(path, old) != public_text(path, new):
            reason = f"{path}: what customers can read changes"
        elif rule.internal:
            reason = f"{path}: {FILE} asks for approval of internal changes here"
        else:
            continue
        decision.gated = True
        decision.reasons.append(reason)
        decision.approvals = max(decision.approvals, rule.approvals)
        if rule.approvers:
            wanted = {a.lower() for a in rule.approvers}
            named = wanted if named is None else named & wanted
    if named is not None:
        decision.approvers = tuple(sorted(named))
    return decision
