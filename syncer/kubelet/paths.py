"""The kubelet API as the virtual API server calls it, as pure functions: which endpoint a path is, what a real kubelet
would authorize it as (nodes/<subresource>, SubjectAccessReview attributes), and how its query maps onto the host
API server's pod subresource. Malformed input raises BadRequest; nothing here does I/O."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

# The kubelet's own path -> nodes/<subresource> mapping; everything not listed is nodes/proxy.
_SUBRESOURCE_PREFIXES = (("/stats", "stats"), ("/metrics", "metrics"), ("/logs", "log"), ("/spec", "spec"))
_VERBS = {"GET": "get", "HEAD": "get", "POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}
# kubelet endpoint -> the host API server's pod subresource
STREAMS = {"exec": "exec", "attach": "attach", "portForward": "portforward"}
_BOOL_PARAMS = ("follow", "timestamps", "previous")
_LOG_STREAMS = ("All", "Stdout", "Stderr")
_INT_PARAMS = ("tailLines", "sinceSeconds", "limitBytes")
_STREAM_FLAGS = {"input": "stdin", "output": "stdout", "error": "stderr", "tty": "tty"}
_NAME = re.compile(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?")


class BadRequest(ValueError):
    """The request is malformed: answered with 400 and this message."""


@dataclass(frozen=True)
class PodRequest:
    """A request about one container (or, for port-forward, one pod) of a virtual pod."""

    endpoint: str  # containerLogs, exec, attach, portForward
    namespace: str
    pod: str
    uid: str = ""
    container: str = ""


def pod_request(path: str) -> PodRequest | None:
    """`/containerLogs/{ns}/{pod}/{container}`, `/{exec,attach}/{ns}/{pod}[/{uid}]/{container}` and
    `/portForward/{ns}/{pod}[/{uid}]` as a PodRequest; None for any other path."""
    endpoint, *parts = path.strip("/").split("/")
    shapes = {"containerLogs": (3,), "exec": (3, 4), "attach": (3, 4), "portForward": (2, 3)}
    if endpoint not in shapes or len(parts) not in shapes[endpoint]:
        return None
    if not all(_NAME.fullmatch(part) for part in parts):
        raise BadRequest(f"malformed {endpoint} path {path!r}")
    namespace, pod, *rest = parts
    if endpoint == "portForward":
        return PodRequest(endpoint, namespace, pod, uid=rest[0] if rest else "")
    uid = rest[0] if len(rest) == 2 else ""
    return PodRequest(endpoint, namespace, pod, uid=uid, container=rest[-1])


def node_subresource(path: str) -> str:
    """The nodes/<subresource> a kubelet authorizes `path` as."""
    for prefix, subresource in _SUBRESOURCE_PREFIXES:
        if path == prefix or path.startswith(prefix + "/"):
            return subresource
    return "proxy"


def authz_verb(method: str) -> str:
    try:
        return _VERBS[method]
    except KeyError:
        raise BadRequest(f"method {method} is not supported") from None


def log_query(container: str, query: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The host `pods/log` query for a kubelet `containerLogs` query: every kubelet log option is checked and passed
    on; unknown parameters are dropped."""
    out = [("container", container)]
    seen = set()
    for key, value in query:
        if key in seen:
            raise BadRequest(f"{key} is given more than once")
        seen.add(key)
        if key in _BOOL_PARAMS:
            out.append((key, _bool(key, value)))
        elif key in _INT_PARAMS:
            out.append((key, _int(key, value, minimum=0 if key != "limitBytes" else 1)))
        elif key == "sinceTime":
            out.append((key, _rfc3339(value)))
        elif key == "stream":
            if value not in _LOG_STREAMS:
                raise BadRequest(f"stream={value!r} is not one of {', '.join(_LOG_STREAMS)}")
            out.append((key, value))
    if "sinceSeconds" in seen and "sinceTime" in seen:
        raise BadRequest("at most one of sinceTime or sinceSeconds may be given")
    return out


def stream_query(request: PodRequest, query: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The host `pods/{exec,attach,portforward}` query for a kubelet stream query: input/output/error/tty become
    stdin/stdout/stderr/tty, commands and ports pass through."""
    out = [("container", request.container)] if request.container else []
    for key, value in query:
        if key in _STREAM_FLAGS:
            out.append((_STREAM_FLAGS[key], _bool(key, value)))
        elif key in ("command", "ports"):
            out.append((key, value))
    if request.endpoint == "exec" and not any(key == "command" for key, _ in out):
        raise BadRequest("exec needs at least one command parameter")
    return out


def _bool(key: str, value: str) -> str:
    lowered = value.lower()
    if lowered in ("", "1", "true", "t"):
        return "true"
    if lowered in ("0", "false", "f"):
        return "false"
    raise BadRequest(f"{key}={value!r} is not a boolean")


def _int(key: str, value: str, minimum: int) -> str:
    if not re.fullmatch(r"-?[0-9]{1,18}", value) or int(value) < minimum:
        raise BadRequest(f"{key}={value!r} is not an integer >= {minimum}")
    return str(int(value))


def _rfc3339(value: str) -> str:
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(f"sinceTime={value!r} is not an RFC 3339 time") from None
    return value
