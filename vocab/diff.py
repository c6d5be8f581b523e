"""The one diff check behind every write: project the live and the desired object onto the fields a kind owns,
normalise what the server drops anyway (None, "", false, empty maps and lists), and produce a JSON merge patch
that is empty when nothing we own differs. An empty patch means no write, which is how restarts stay silent."""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]


def _is_empty(value: Any) -> bool:
    return value is None or value is False or value == "" or value == {} or value == []


def normalise(value: Any) -> Any:
    """Drop empty values recursively, so "absent" and "empty" compare equal."""
    if isinstance(value, dict):
        pruned = {k: normalise(v) for k, v in value.items()}
        return {k: v for k, v in pruned.items() if not _is_empty(v)}
    if isinstance(value, list):
        return [normalise(v) for v in value]
    return value


def get_path(obj: Obj | None, path: str) -> Any:
    node: Any = obj
    for part in path.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


def _string_map_view(value: Any) -> Obj | None:
    """An owned map[string]string (labels, annotations, data) keeps "" values: the server stores them, so they are
    content, not omitted defaults. None for anything that is not such a map."""
    if not isinstance(value, dict) or not all(v is None or isinstance(v, str) for v in value.values()):
        return None
    return {k: v for k, v in value.items() if v is not None}


def owned_view(obj: Obj | None, paths: tuple[str, ...]) -> Obj:
    """A nested dict holding only `paths` (dotted) of `obj`, normalised."""
    view: Obj = {}
    for path in paths:
        raw = get_path(obj, path)
        value = _string_map_view(raw)
        if value is None:
            value = normalise(raw)
        if _is_empty(value):
            continue
        *parents, leaf = path.split(".")
        node = view
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return view


def merge_patch(current: Obj, desired: Obj) -> Obj:
    """RFC 7386 patch turning `current` into `desired` (both normalised): changed keys set, missing keys nulled."""
    patch: Obj = {}
    for key, want in desired.items():
        have = current.get(key)
        if isinstance(want, dict) and isinstance(have, dict):
            sub = merge_patch(have, want)
            if sub:
                patch[key] = sub
        elif want != have:
            patch[key] = want
    for key in current.keys() - desired.keys():
        patch[key] = None
    return patch


def owned_patch(live: Obj | None, desired: Obj, paths: tuple[str, ...]) -> Obj:
    """The merge patch for the owned `paths` of `live`, or {} when they already match `desired`. Owned values that
    are equal as they are need no views: the common case (every key after a restart, most watch events) costs one
    C-level comparison per path instead of two normalised copies (profiled growing to 10,000 pods, the copies were
    15% of vcsync's CPU)."""
    if all(get_path(live, path) == get_path(desired, path) for path in paths):
        return {}
    return merge_patch(owned_view(live, paths), owned_view(desired, paths))


def changed_paths(patch: Obj, prefix: str = "") -> list[str]:
    """Dotted leaf paths a patch touches: what dry-run and logs name, never the values (Secret data)."""
    paths: list[str] = []
    for key, value in patch.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            paths.extend(changed_paths(value, path + "."))
        else:
            paths.append(path)
    return paths
