"""The floor: a bare Flask app that answers the portal's request shapes doing next to nothing.

`bench/floor.py` serves it with the same gunicorn settings as the portal to tell what the
portal's own work costs per request. Pages render one Jinja template of about the size of a
portal page (``FLOOR_PAGE_BYTES``); search answers a small JSON list; sign-in sets a Flask
session; the edit form writes a file. No content, audience, database or git.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path

from flask import Flask, jsonify, redirect, render_template, request, session
from jinja2 import DictLoader

app = Flask(__name__)
app.secret_key = secrets.token_hex(16)
PAGE_BYTES = int(os.environ.get("FLOOR_PAGE_BYTES", "20000"))
SLUGS = [f"policy-{n}" for n in range(40)]
SAVES = Path(os.environ.get("FLOOR_SAVE_DIR") or tempfile.mkdtemp())
PARAGRAPH = ("Customers may return most items within 30 days of delivery for a full refund "
             "to the original payment method, provided the item is unused. ")
PARAGRAPHS = [PARAGRAPH] * max(1, PAGE_BYTES // (len(PARAGRAPH) + 8))
PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{{ title }}</title>
<link rel="stylesheet" href="/static/site.css"></head><body><header><a href="/">Home</a>
<form action="/search"><input name="q"></form></header><main><h1>{{ title }}</h1>
{% for p in paragraphs %}<p>{{ p }}</p>{% endfor %}</main></body></html>"""
FORM = """<!doctype html><html lang="en"><body><form method="post">
<input name="csrf_token" type="hidden" value="{{ token }}">
<input name="base_rev" type="hidden" value="{{ rev }}">
<input name="title" value="{{ slug }}"><select name="audience"><option value="public" selected>
</option></select><textarea name="body">{{ body }}</textarea></form></body></html>"""

# Templates compiled once and kept, as Flask does for files (render_template_string would
# compile on every call and make the floor look slower than it is).
app.jinja_loader = DictLoader({"page.html": PAGE, "form.html": FORM})


@app.get("/healthz")
def healthz():
    return jsonify(status="ok")


@app.get("/")
@app.get("/policies/<slug>")
def page(slug: str = "home"):
    response = app.make_response(render_template("page.html", title=slug,
                                                        paragraphs=PARAGRAPHS))
    if "user" not in session:
        response.cache_control.public = True
        response.cache_control.max_age = 60
        response.add_etag()
        return response.make_conditional(request)
    response.cache_control.private = True
    response.cache_control.no_store = True
    return response


@app.get("/sitemap.xml")
def sitemap():
    urls = "".join(f"<url><loc>{request.host_url}policies/{s}</loc></url>" for s in SLUGS)
    return app.response_class(f"<urlset>{urls}</urlset>", mimetype="application/xml")


@app.get("/api/search")
def search():
    q = request.args.get("q", "")[:200].lower()
    hits = [{"title": s, "url": f"/policies/{s}#section", "snippet": PARAGRAPH}
            for s in SLUGS if q[:1] in s][:10]
    return jsonify(query=q, results=hits, total=len(hits))


@app.route("/login", methods=["GET", "POST"])
def login():
    if request.method == "POST":
        session["user"] = request.form.get("username", "")
        return redirect("/")
    session["csrf"] = token = secrets.token_hex(16)
    return render_template("form.html", token=token, rev="0", slug="login", body="")


@app.route("/edit/policies/<slug>", methods=["GET", "POST"])
def edit(slug: str):
    path = SAVES / f"{slug}.md"
    if request.method == "POST":
        path.write_text(request.form.get("body", ""))
        return redirect(f"/policies/{slug}", 303)
    body = path.read_text() if path.exists() else PARAGRAPH
    return render_template("form.html", token=session.get("csrf", ""), rev="1", slug=slug,
                                  body=body)
