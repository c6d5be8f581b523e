"""Logging: one JSON object per line (`ts`, `level`, `msg`, then the object's kind/vns/vname/host_name/action),
or a console rendering for humans. Stdlib loggers (aiohttp, kubernetes_asyncio) go through the same pipeline,
so every line the process prints has one shape."""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


def _rename_event(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
    event["msg"] = event.pop("event", "")
    return event


def setup_logging(fmt: str = "json", level: str = "info") -> None:
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="ts"),
    ]
    if fmt == "json":
        renderer: Any = structlog.processors.JSONRenderer()
        final = [_rename_event, structlog.processors.format_exc_info, renderer]
    else:
        final = [structlog.dev.ConsoleRenderer(timestamp_key="ts")]
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *final],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(_LEVELS[level])
    for noisy in ("aiohttp.access", "kubernetes_asyncio.client.rest"):
        logging.getLogger(noisy).setLevel(max(_LEVELS[level], logging.WARNING))
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    return structlog.get_logger(name)
