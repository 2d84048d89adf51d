"""The ASGI app uvicorn imports (`api.main:app`), configured from ``MILLGATE_*``."""

from api.app import create_app
from core.gc_tuning import tune_for_serving
from core.logs import configure_logging

# Each worker process imports this module: its logs go out as `millgate serve`'s do.
configure_logging()
app = create_app()
# A serving process only (tests build their apps with create_app): see core.gc_tuning.
tune_for_serving(app.state.runtime.settings.gc_young_threshold)
