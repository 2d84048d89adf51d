"""The ASGI app uvicorn imports (`api.main:app`), configured from ``MILLGATE_*``."""

from api.app import create_app

app = create_app()
