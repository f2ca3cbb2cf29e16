# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The otelcol_config stages: one module_utils file each, with the import rules ansible-test enforces."""

from __future__ import annotations

import ast
import copy
import sys
from pathlib import Path
from typing import List

import pytest

from ansible_collections.observability.lgtm.plugins.module_utils.otelcol_read import read_spec
from ansible_collections.observability.lgtm.plugins.module_utils.otelcol_render import render

ROOT = Path(__file__).resolve().parents[4]
MODULE_UTILS = ROOT / "plugins" / "module_utils"
STAGES = ["otelcol_spec", "otelcol_facts", "otelcol_values", "otelcol_read", "otelcol_lint", "otelcol_render", "otelcol_overrides",
          "otelcol_check", "otelcol_read_kubernetes", "otelcol_read_access", "otelcol_kubernetes_needs",
          "otelcol_read_host", "otelcol_render_host", "otelcol_read_backend"]
PREFIX = "ansible_collections.observability.lgtm.plugins.module_utils."


def imported_modules(path: Path) -> List[str]:
    names: List[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            names.append(node.module or "")
    return names


@pytest.mark.parametrize("stage", STAGES)
def test_stage_imports_only_stdlib_and_module_utils(stage: str) -> None:
    path = MODULE_UTILS / f"{stage}.py"
    for name in imported_modules(path):
        top = name.split(".", 1)[0]
        assert name.startswith(PREFIX) or top in sys.stdlib_module_names, f"{stage} imports {name}"


@pytest.mark.parametrize("stage", STAGES)
def test_stage_files_stay_small(stage: str) -> None:
    lines = (MODULE_UTILS / f"{stage}.py").read_text(encoding="utf-8").count("\n")
    assert lines <= 600, f"{stage}.py has {lines} lines; split it"


def test_reading_does_not_use_rendering() -> None:
    for name in imported_modules(MODULE_UTILS / "otelcol_read.py"):
        assert not name.endswith(("otelcol_render", "otelcol_overrides", "otelcol_check")), name


def test_filter_file_is_a_thin_entry_point() -> None:
    lines = (ROOT / "plugins" / "filter" / "otelcol_config.py").read_text(encoding="utf-8").count("\n")
    assert lines <= 150


def test_needs_filter_file_is_a_thin_entry_point() -> None:
    lines = (ROOT / "plugins" / "filter" / "otelcol_kubernetes_needs.py").read_text(encoding="utf-8").count("\n")
    assert lines <= 60


@pytest.mark.parametrize("reader", ["otelcol_read_kubernetes", "otelcol_read_host", "otelcol_read_access",
                                    "otelcol_read_backend"])
def test_the_section_readers_do_not_use_rendering(reader: str) -> None:
    for name in imported_modules(MODULE_UTILS / f"{reader}.py"):
        assert not name.endswith(("otelcol_render", "otelcol_render_host", "otelcol_overrides", "otelcol_check")), name


def test_render_does_not_change_the_spec() -> None:
    raw = {
        "memory": {"limit_mib": 512},
        "backends": {"tempo": {"type": "tempo", "host": "tempo.lab"}},
        "processors": {"attributes/x": {"actions": [{"key": "a", "action": "delete"}]}},
        "pipelines": {"traces": {"receivers": ["otlp"], "extra_processors": ["attributes/x"], "exporters": ["tempo"],
                                 "sampling": {"tail": {"policies": [{"name": "all", "type": "always_sample"}]}}}},
    }
    spec = read_spec(raw, None)
    before = copy.deepcopy(spec)
    config = render(spec)
    config["processors"]["attributes/x"]["actions"].append({"key": "b", "action": "delete"})
    config["processors"]["tail_sampling/traces"]["policies"].clear()
    assert spec == before
