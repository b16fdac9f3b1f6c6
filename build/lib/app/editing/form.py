"""The editor form: its fields, filled from a document or a request, and the commit it asks for.

Field names are a contract (see README): title, summary, audience, owner, tags, effective,
review_by, body, message, public_note, material, base_rev; on /new also kind and slug.
"""

from __future__ import annotations

import yaml

from app.content.store import META_FIELDS, Document, split_front_matter
from app.editing.save import Change, Conflict

FIELDS = ("title", "summary", "audience", "owner", "tags", "effective", "review_by", "body",
          "message", "public_note", "base_rev", "kind", "slug")


def from_doc(doc: Document, head: str) -> dict:
    def text(name: str) -> str:
        value = doc.meta.get(name)
        return "" if value is None else str(value)

    return {
        "title": text("title"), "summary": text("summary"),
        "audience": doc.meta.get("audience") or "internal", "owner": text("owner"),
        "tags": _tags(doc.meta.get("tags")),
        "effective": text("effective"), "review_by": text("review_by"),
        "body": doc.body, "message": f"Update {doc.title}", "public_note": "",
        "material": False, "base_rev": head, "kind": doc.kind, "slug": doc.slug,
    }


def _tags(value) -> str:
    if isinstance(value, list):
        return ", ".join(str(t) for t in value)
    return "" if value is None else str(value)


def blank(head: str) -> dict:
    return dict.fromkeys(FIELDS, "") | {"audience": "internal", "material": False,
                                              "base_rev": head, "kind": "policy",
                                              "message": "Add a new document"}


def from_request(form) -> dict:
    fields = {name: form.get(name, "") for name in FIELDS}
    fields["material"] = form.get("material") == "yes"
    return fields


def extra_meta(doc: Document | None) -> dict:
    """Front matter keys the form does not edit, kept as they were."""
    if doc is None:
        return {}
    return {k: v for k, v in doc.meta.items() if k not in META_FIELDS}


def change(fields: dict, author: str) -> Change:
    return Change(message=fields.get("message", ""), author=author,
                  note=fields.get("public_note", ""), material=bool(fields.get("material")))


def after_conflict(fields: dict, conflict: Conflict) -> dict:
    """The form to show with a 409: the merged text, based on the new head."""
    front, body = split_front_matter(conflict.merged)
    merged = dict(fields, base_rev=conflict.head, body=body)
    try:
        meta = yaml.safe_load(front) if front else {}
    except yaml.YAMLError:
        meta = None  # conflicting front matter: keep the user's own fields
    if isinstance(meta, dict):
        for name in ("title", "summary", "audience", "owner", "effective", "review_by"):
            merged[name] = "" if meta.get(name) is None else str(meta.get(name))
        if isinstance(meta.get("tags"), list):
            merged["tags"] = ", ".join(str(t) for t in meta["tags"])
    return merged
