"""Search: the results page (works without JavaScript), the JSON API and click logging."""

from __future__ import annotations

from flask import Blueprint, abort, jsonify, render_template, request

from app.accounts.auth import current_viewer
from app.accounts.security import search_limit
from app.db import get_db
from app.lifecycle.search_log import CLICK_URL_RE, prune_now_and_then, record, record_click
from app.search.query import MAX_QUERY, normalise
from app.search.service import MAX_LIMIT, SECTIONS_PER_DOC, Answer, service

bp = Blueprint("search", __name__)


def _query() -> str:
    # A trailing space stays: it says the last word is finished (see ``search_query.parse``).
    return request.args.get("q", "")[:MAX_QUERY].lstrip()


def _limit(default: int) -> int:
    raw = request.args.get("limit", "")
    return int(raw) if raw.isdigit() and 1 <= int(raw) <= MAX_LIMIT else default


def _sections() -> int:
    """``sections=1..3``: matching sections per result (the list shown while typing asks
    for one, so the others' snippets are never made)."""
    raw = request.args.get("sections", "")
    return int(raw) if raw.isdigit() and 1 <= int(raw) <= SECTIONS_PER_DOC else SECTIONS_PER_DOC


@bp.get("/search")
@search_limit
def page():
    viewer, text = current_viewer(), _query()
    answer = service().search(text, viewer, limit=_limit(20)) if text else None
    log_id = record(get_db(), normalise(text), answer.audience, answer.count) if answer else None
    if log_id:
        prune_now_and_then(get_db())
    html = render_template("search.html", q=text, answer=answer, log_id=log_id, viewer=viewer)
    # A results page names its own analytics row: one cached copy must not serve many.
    return (html, {"Cache-Control": "no-store"}) if log_id else html


@bp.get("/api/search")
@search_limit
def api():
    answer = service().search(_query(), current_viewer(), limit=_limit(10),
                              sections=_sections())
    return jsonify(as_json(answer))


@bp.post("/api/search/click")
@search_limit
def click():
    """Record the result an agent opened (JSON: {"url", and "q" or "log_id"})."""
    data = request.get_json(silent=True) or {}
    url, viewer = str(data.get("url") or ""), current_viewer()
    if not CLICK_URL_RE.fullmatch(url):
        abort(400)
    audience = "staff" if viewer.sees_internal else "public"
    if str(data.get("log_id") or "").isdigit():
        ok = record_click(get_db(), int(data["log_id"]), url, audience)
        return jsonify(recorded=ok), 200 if ok else 404
    answer = service().search(str(data.get("q") or "")[:MAX_QUERY], viewer, limit=MAX_LIMIT)
    if url.split("#")[0] not in {r.url.split("#")[0] for r in answer.results}:
        abort(400)  # only a result of this query, as this viewer sees it, counts as a click
    record(get_db(), normalise(answer.query), answer.audience, answer.count, url)
    return jsonify(recorded=True)


def as_json(answer: Answer) -> dict:
    return {
        "query": answer.query, "count": answer.count, "more": answer.more,
        "suggestion": answer.suggestion, "fallback": answer.fallback, "notice": answer.notice,
        "results": [{
            "title": r.title, "url": r.url, "link": r.link, "kind": r.kind,
            "audience": r.audience, "snippet": str(r.snippet),
            "highlight": r.highlight,
            "sections": [{"heading": s.section, "url": s.url, "link": s.link,
                          "snippet": str(s.snippet)} for s in r.sections],
        } for r in answer.results],
    }
