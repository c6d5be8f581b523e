"""The README's generated tables: README.md matches the code, and the tables cover every flag and every `--sync` kind
with the facts a reader needs (env var, direction, default, status)."""

from __future__ import annotations

import pytest

from syncer import docs, registry
from syncer.config import FLAGS
from syncer.kinds import DEFAULT_KINDS, VALID_KINDS


def region(name: str) -> str:
    text = docs.README.read_text(encoding="utf-8")
    return text.partition(f"<!-- {name}:start -->")[2].partition(f"<!-- {name}:end -->")[0].strip()


def kind_rows(table: str) -> dict[str, list[str]]:
    cells = (row.strip("|").split("|") for row in table.splitlines()[2:])
    return {kind.strip(" `"): [cell.strip() for cell in rest] for kind, *rest in cells}


def test_readme_is_up_to_date():
    text = docs.README.read_text(encoding="utf-8")
    assert docs.render_readme(text) == text, "README.md's generated tables are stale; run `make docs`"


def test_flags_table_lists_every_flag_with_its_env_var():
    rows = region("flags").splitlines()
    for flag in FLAGS:
        assert any(row.startswith(f"| `{flag.option}`") and f"`{flag.env_var}`" in row for row in rows), flag.name


def test_kinds_table_lists_every_kind_default_ones_first():
    kinds = list(kind_rows(region("kinds")))
    assert sorted(kinds) == sorted(VALID_KINDS)
    assert set(kinds[: len(DEFAULT_KINDS)]) == DEFAULT_KINDS


def test_every_kind_has_a_direction():
    assert set(docs.DIRECTIONS) == VALID_KINDS


def test_kinds_table_shows_default_and_how_to_change_it():
    rows = kind_rows(docs.kinds_markdown_table())
    assert rows["pods"][1:3] == ["on", "`--sync=-pods`"]
    assert rows["ingresses"][1:3] == ["off", "`--sync=+ingresses`"]
    assert rows["events"][0] == "host → virtual"


def test_configmaps_and_secrets_are_implemented():
    rows = kind_rows(region("kinds"))
    assert rows["configmaps"][3] == rows["secrets"][3] == "implemented"


def test_status_follows_the_registry(monkeypatch):
    implemented = {spec.name for spec in registry.KINDS} | set(registry.ENGINE_KINDS)
    rows = kind_rows(docs.kinds_markdown_table())
    assert {kind for kind, cells in rows.items() if cells[3] == "implemented"} == implemented
    monkeypatch.setattr(registry, "KINDS", tuple(spec for spec in registry.KINDS if spec.name != "secrets"))
    assert kind_rows(docs.kinds_markdown_table())["secrets"][3] == "planned"


def test_render_replaces_only_the_marked_regions():
    text = (
        "intro\n<!-- kinds:start -->\nold\n<!-- kinds:end -->\nmiddle\n<!-- flags:start -->\n<!-- flags:end -->\nend\n"
    )
    rendered = docs.render_readme(text)
    assert rendered.startswith("intro\n<!-- kinds:start -->\n| kind |") and "old" not in rendered
    assert "<!-- kinds:end -->\nmiddle\n<!-- flags:start -->\n| flag |" in rendered
    assert rendered.endswith("<!-- flags:end -->\nend\n")
    assert docs.render_readme(rendered) == rendered


def test_render_refuses_text_without_a_region():
    with pytest.raises(ValueError, match=r"^no <!-- flags:start --> \.\.\. <!-- flags:end --> region"):
        docs.render_readme("<!-- kinds:start -->\n<!-- kinds:end -->\n")
