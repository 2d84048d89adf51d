"""Pure ASGI middleware of the app, one module each, added in ``create_app``."""
