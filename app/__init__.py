"""The policy portal: customer-service policies and FAQs for customers and agents."""

from __future__ import annotations

import logging

from flask import Flask

# Modules that own tables register them at import, before db.init_app migrates.
from . import acks as _acks  # noqa: F401
from . import auth, config, content, db, errors, render, security, urls
from . import feedback as _feedback  # noqa: F401
from . import search_log as _search_log  # noqa: F401


def create_app(test_config: dict | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=False)
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

    from .views import account, acks, edit, feedback, manage, public
    from .views import history as history_views
    from .views import search as search_views

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

    from . import cli

    cli.init_app(app)

    from . import search

    search.init_app(app)
    return app
