"""The policy portal: customer-service policies and FAQs for customers and agents."""

from __future__ import annotations

import logging

from flask import Flask

from . import auth, config, content, db, errors, security


def create_app(test_config: dict | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=False)
    config.load(app, test_config)
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    db.init_app(app)
    auth.init_app(app)
    content.init_app(app)
    security.init_app(app)
    errors.init_app(app)

    from .views import account, edit, public
    from .views import history as history_views

    app.register_blueprint(public.bp)
    app.register_blueprint(account.bp)
    app.register_blueprint(history_views.bp)
    app.register_blueprint(edit.bp)

    from . import cli

    cli.init_app(app)
    return app
