"""Pure ASGI middleware of the HTTP app, one concern a module, each added by ``create_app``."""
