"""History pages: revisions and diffs for staff; the public changelog and Atom feed for all."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, Response, abort, render_template, request
from flask_login import current_user

from app.accounts.auth import can
from app.content.audience import PUBLIC, project, visible
from app.content.store import store
from app.editing import proposals
from app.history import changelog
from app.history import revisions as history
from app.history.diffing import MODES, VIEWS, diff

bp = Blueprint("history", __name__)
KIND_OF = {"policies": "policy", "faq": "faq"}  # URL folder -> kind, as in document URLs


def _staff_doc(kind: str, slug: str) -> tuple[str, str, str]:
    """(kind, slug, path) for staff pages; 404 for anyone else or an unknown address."""
    if not can(current_user, "read_internal") or kind not in KIND_OF:
        abort(404)
    path = history.doc_path(KIND_OF[kind], slug)
    if path is None:
        abort(404)
    return KIND_OF[kind], slug, path


@bp.get("/history/<kind>/<path:slug>")
def revisions(kind: str, slug: str):
    kind, slug, path = _staff_doc(kind, slug)
    revs = history.revisions(path)
    if not revs:
        abort(404)
    page = history.page_of(revs, request.args.get("page", 1, type=int))
    return render_template("history/revisions.html", kind=kind, slug=slug, page=page,
                           current=store().get(kind, slug), url_kind=request.view_args["kind"],
                           can_edit=can(current_user, "edit"),
                           approved=proposals.published_by_commit([r.sha for r in page.revisions]))


@bp.get("/diff/<kind>/<path:slug>")
def compare(kind: str, slug: str):
    kind, slug, path = _staff_doc(kind, slug)
    revs = history.revisions(path)
    new = history.find(revs, request.args.get("to", "")) or (revs[0] if revs else None)
    old = history.find(revs, request.args.get("from", ""))
    if new is None:
        abort(404)
    if old is None:
        old = next((r for r in revs if r.number == new.number - 1), None)
    mode = request.args.get("mode") if request.args.get("mode") in MODES else "rendered"
    view = request.args.get("view") if request.args.get("view") in VIEWS else "side"
    texts = [history.source_at(r, kind, slug, mode) for r in (old, new)]
    return render_template("history/diff.html", kind=kind, slug=slug, old=old, new=new,
                           mode=mode, view=view, result=diff(*texts, mode=mode),
                           url_kind=request.view_args["kind"])


@bp.app_template_filter("atom_date")
def atom_date(value: dt.datetime | None) -> str:
    value = value or dt.datetime.now(dt.UTC)
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@bp.get("/changes")
def changes():
    return render_template("history/changes.html", changes=changelog.site_changes())


@bp.get("/changes.atom")
def feed():
    xml = render_template("history/changes_atom.xml", changes=changelog.site_changes(),
                          base=request.url_root.rstrip("/"))
    return Response(xml, mimetype="application/atom+xml")


@bp.get("/changes/<kind>/<path:slug>")
def document_changes(kind: str, slug: str):
    doc = store().get(KIND_OF.get(kind, ""), slug)
    if doc is None or not visible(doc, viewer=PUBLIC):
        abort(404)
    # Only the pages the site links to: each costs a walk of the history and its texts.
    page = request.args.get("page", 1, type=int)
    if not 1 <= page <= changelog.MAX_PAGES:
        abort(404)
    per = changelog.PER_PAGE
    found = changelog.document_changes(doc.kind, doc.slug, doc.path, limit=page * per + 1)
    shown, older = found[(page - 1) * per:page * per], len(found) > page * per
    if page > 1 and not shown:
        abort(404)
    return render_template("history/document_changes.html", doc=project(doc, viewer=PUBLIC),
                           changes=shown, page=page, more=older and page < changelog.MAX_PAGES,
                           cut=older and page == changelog.MAX_PAGES)
