"""The policy portal: customer-service policies and FAQs for customers and agents.

Packages, in the one direction imports flow (each may import only those before it):

    config, clock, db, locks, caching  settings, today(), the SQLite database, file locks, caches
    repo       git reads and writes, head moves
    content    documents, front matter, the store, audience projection, rendering
    history    revisions, the version in force, diffs, changelog, catalogue lists
    search     the search indexes, queries, results
    editing    saves, merges, crash recovery
    lifecycle  reviews, clarity, acknowledgements, feedback, analytics, dashboard
    accounts   users, roles, sessions, security headers and limits
    web        blueprints (thin views), error pages, template URLs
    cli        ``flask kb ...`` and ``flask users ...``

``tests/test_architecture.py`` enforces the order and the absence of cycles.
"""

from __future__ import annotations

import logging

from flask import Flask

from app import config, db
from app.accounts import auth, security
from app.cli import commands as cli
from app.content import render
from app.content import store as content
from app.search import service as search
from app.web import (
    account,
    acks,
    edit,
    errors,
    feedback,
    manage,
    proposals,
    public,
    staff_pages,
    urls,
)
from app.web import history as history_views
from app.web import search as search_views


def create_app(test_config: dict | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=False,
                template_folder=str(config.TEMPLATE_DIR), static_folder=str(config.STATIC_DIR))
    config.load(app, test_config)
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    db.init_app(app)
    auth.init_app(app)
    content.init_app(app)
    render.init_app(app)
    security.init_app(app)
    errors.init_app(app)
    urls.init_app(app)

    app.register_blueprint(public.bp)
    app.register_blueprint(account.bp)
    app.register_blueprint(search_views.bp)
    app.register_blueprint(history_views.bp)
    app.register_blueprint(edit.bp)
    app.register_blueprint(feedback.bp)
    app.register_blueprint(manage.bp)
    manage.init_app(app)
    app.register_blueprint(acks.bp)
    acks.init_app(app)
    staff_pages.init_app(app)
    app.register_blueprint(proposals.bp)
    proposals.init_app(app)

    cli.init_app(app)
    search.init_app(app)
    return app
