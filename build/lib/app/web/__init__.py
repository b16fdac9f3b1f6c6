"""The blueprints (thin views), error pages and template URLs.

May import every package above it; nothing imports ``app.web`` but the factory and the CLI.
"""
