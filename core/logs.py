"""Log output of a Millgate process: one JSON object a line, or colours for a terminal.

Millgate's modules, and the libraries beneath them (uvicorn too), log through the standard
``logging`` module; structlog renders every record at the one root handler, the fields given
as ``extra={...}`` beside the message. ``MILLGATE_LOG_FORMAT=console`` is for people at a
terminal; anything else, and the default, writes JSON for a log collector.

Tracebacks are plain text (``exception`` field) and never carry local variables: a frame's
locals may hold a token, a key or a decrypted detail.

Example:
    configure_logging()
    logging.getLogger("millgate.http").info("request", extra={"status": 200})
"""

from __future__ import annotations

import logging
import os
import sys
from typing import TextIO

import structlog
from structlog.typing import EventDict, Processor

FORMAT_ENV = "MILLGATE_LOG_FORMAT"
LEVEL_ENV = "MILLGATE_LOG_LEVEL"
FORMATS = ("json", "console")

# uvicorn installs handlers of its own on these unless given log_config=None: they are
# cleared so that each record reaches the root handler once.
_LIBRARY_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "gunicorn.error")


def log_format() -> str:
    value = os.environ.get(FORMAT_ENV, "json").strip().lower()
    return value if value in FORMATS else "json"


def _drop_color_message(_logger: object, _name: str, event: EventDict) -> EventDict:
    event.pop("color_message", None)  # uvicorn's copy of the message with terminal colours
    return event


def _shared_processors() -> list[Processor]:
    return [
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.ExtraAdder(),
        _drop_color_message,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]


def formatter(fmt: str = "json") -> logging.Formatter:
    """The formatter of the root handler: structlog's rendering of standard records."""
    renderer: Processor
    if fmt == "console":
        renderer = structlog.dev.ConsoleRenderer(
            exception_formatter=structlog.dev.plain_traceback  # no locals
        )
        final: list[Processor] = [renderer]
    else:
        final = [structlog.processors.format_exc_info, structlog.processors.JSONRenderer()]
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_shared_processors(),
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *final],
    )


def configure_logging(
    fmt: str | None = None, *, level: int | str | None = None, stream: TextIO | None = None
) -> logging.Handler:
    """Routes every logger to one handler on ``stream`` (stderr) in ``fmt``; idempotent."""
    fmt = fmt or log_format()
    level = level or os.environ.get(LEVEL_ENV, "INFO").upper()
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter(fmt))
    handler.set_name("millgate")
    root = logging.getLogger()
    root.handlers = [h for h in root.handlers if h.get_name() != "millgate"]
    root.addHandler(handler)
    root.setLevel(level)
    for name in _LIBRARY_LOGGERS:
        library = logging.getLogger(name)
        library.handlers.clear()
        library.propagate = True
        # The root's level decides, whatever a server's own log config set here before.
        library.setLevel(logging.NOTSET)
        library.disabled = False
    # One line a request is written by api.middleware.request_log, with more in it: uvicorn's
    # own access line would repeat it (uvicorn skips it when no handler would take it).
    logging.getLogger("uvicorn.access").propagate = False
    # Alembic names each of its plugins at start: noise, not news.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    structlog.configure(
        processors=[
            *_shared_processors(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    return handler
