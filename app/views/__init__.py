"""Blueprints: thin views over the services in ``app``."""
