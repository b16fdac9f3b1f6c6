"""Reading: home, policy and FAQ pages, sitemap and health check (public and staff)."""

from __future__ import annotations

from flask import Blueprint, Response, abort, jsonify, render_template, request, url_for
from flask_login import current_user

from app.accounts.auth import can, current_viewer
from app.content.audience import PUBLIC, project
from app.content.render import render, without_title
from app.content.store import repo, store
from app.history.catalogue import group_by_tag, paginate, tag_counts, visible_documents
from app.history.changelog import public_revision
from app.history.revisions import VersionError, page_version
from app.repo.gitrepo import Change

bp = Blueprint("public", __name__)
HOME_POLICIES, HOME_GROUPS, HOME_PER_GROUP = 40, 12, 8


@bp.get("/")
def home():
    viewer = current_viewer()
    docs = visible_documents(viewer)
    policies = [d for d in docs if d.kind == "policy"]
    faqs = [d for d in docs if d.kind == "faq"]
    # Capped lists: the home page stays small and fast however large the handbook grows.
    groups = [(tag, items) for tag, items in group_by_tag(faqs)][:HOME_GROUPS]
    return render_template("home.html", policies=policies[:HOME_POLICIES],
                           policy_total=len(policies), faq_total=len(faqs), faq_groups=groups,
                           per_group=HOME_PER_GROUP, viewer=viewer)


@bp.get("/policies/")
def policy_index():
    return _index("policy")


@bp.get("/faq/")
def faq_index():
    return _index("faq")


def _index(kind: str):
    viewer = current_viewer()
    docs = visible_documents(viewer, kind=kind)
    tag = request.args.get("tag", "")[:60]
    shown = [d for d in docs if tag in d.tags] if tag else docs
    number = request.args.get("page", 1, type=int)
    page = paginate(shown, number)
    if page.number != number:  # a page the list does not link to
        abort(404)
    return render_template("index.html", kind=kind, page=page, tag=tag,
                           tags=tag_counts(docs), viewer=viewer)


@bp.get("/policies/<path:slug>")
def policy(slug: str):
    return _document("policy", slug)


@bp.get("/faq/<path:slug>")
def faq(slug: str):
    return _document("faq", slug)


def _document(kind: str, slug: str):
    viewer = current_viewer()
    doc = store().get(kind, slug)
    if doc is None:
        abort(404)
    try:  # ?rev=, ?as_of= and effective dates pick which version of the document to show
        version = page_version(doc, sees_internal=viewer.sees_internal,
                               rev=request.args.get("rev", ""),
                               as_of_arg=request.args.get("as_of", ""))
    except VersionError as exc:
        abort(exc.status)
    shown = project(version.doc, viewer=viewer)
    if shown is None:
        if viewer.is_staff:  # staff previewing as a customer: say why, keep the 404 status
            return render_template("not_public.html", doc=doc), 404
        abort(404)
    page = render(without_title(shown.body, shown.title))
    return render_template("document.html", doc=shown, page=page, viewer=viewer,
                           version=_printed(version, shown, viewer), shown=version,
                           can_edit=can(current_user, "edit"))


def _printed(version, shown, viewer) -> Change | None:
    """The commit the printed "version as of DATE (commit)" line names.

    Staff: the revision shown, or the file's last commit.  Customers: the last commit that
    changed the public projection of what is shown (``public_revision``), so a commit that
    touched only internal text never shows its id or date.
    """
    source = version.source
    if not viewer.sees_internal:
        return public_revision(shown.kind, shown.slug, shown.path, source.sha if source else "")
    return Change(source.sha, source.entry.when) if source else repo().last_change(shown.path)


@bp.get("/sitemap.xml")
def sitemap():
    docs = visible_documents(PUBLIC)
    xml = render_template("sitemap.xml", docs=docs, base=request.url_root.rstrip("/"))
    return Response(xml, mimetype="application/xml")


@bp.get("/healthz")
def healthz():
    root = store().root
    ok = root.is_dir()
    body = {"status": "ok" if ok else "content directory missing"}
    return jsonify(body), 200 if ok else 503, {"Cache-Control": "no-store"}  # always live


@bp.get("/robots.txt")
def robots():
    sitemap_url = url_for("public.sitemap", _external=True)
    text = f"User-agent: *\nDisallow: /login\nSitemap: {sitemap_url}\n"
    return Response(text, mimetype="text/plain")
