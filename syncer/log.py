"""Logging: one JSON object per line (`ts`, `level`, `logger`, `msg`, then the object's kind/vns/vname/host_name/
action), or a console rendering for humans. vcsync's own lines go straight from structlog to stderr (a level below the
threshold costs one method call, and orjson renders); stdlib loggers (aiohttp, kubernetes_asyncio) go through the
same processors, so every line the process prints has one shape."""

from __future__ import annotations

import logging
import sys
from typing import Any

import orjson
import structlog

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


def _rename_event(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
    event["msg"] = event.pop("event", "")
    return event


def _dumps(event: dict[str, Any], **kw: Any) -> str:
    return orjson.dumps(event, default=kw.get("default"), option=orjson.OPT_NON_STR_KEYS).decode()


def setup_logging(fmt: str = "json", level: str = "info") -> None:
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="ts"),
    ]
    if fmt == "json":
        final = [_rename_event, structlog.processors.format_exc_info, structlog.processors.JSONRenderer(_dumps)]
    else:
        final = [structlog.dev.ConsoleRenderer(timestamp_key="ts")]
    _route_stdlib_loggers(shared, final, _LEVELS[level])
    structlog.configure(
        processors=[*shared, *final],
        logger_factory=_StderrLogger,
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS[level]),
        cache_logger_on_first_use=True,
    )


def _route_stdlib_loggers(shared: list[Any], final: list[Any], level: int) -> None:
    """Lines of libraries that log through the stdlib, rendered by the same processors."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *final],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("aiohttp.access", "kubernetes_asyncio.client.rest"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


class _StderrLogger(structlog.WriteLogger):
    """A line writer to stderr with a name, for `add_logger_name`."""

    def __init__(self, name: str = "") -> None:
        super().__init__(sys.stderr)
        self.name = name


def get_logger(name: str) -> Any:
    """A logger whose lines carry `logger: name`; resolved lazily, so it may be taken at import, before setup."""
    return structlog.get_logger(name)
