"""Pure-ASGI pieces of the HTTP stack, each added in ``api.app.create_app`` with one line."""
