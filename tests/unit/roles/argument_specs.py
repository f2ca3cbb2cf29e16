"""The roles' argument specs and declared bounds, read for the tests that generate bad input from them.

Shared by test_argument_specs_refuse_bad_input.py (wrong types and unknown
choices, from meta/argument_specs.yml) and test_input_bounds_refuse_bad_input.py
(empty and out-of-range values, from meta/input_bounds.yml as well).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Iterator, Tuple

import yaml

REPO = Path(__file__).resolve().parents[3]
ROLES = sorted(path for path in (REPO / "roles").iterdir() if (path / "meta" / "argument_specs.yml").exists())


def entry_points(role: Path) -> Iterator[Tuple[str, Dict[str, Any]]]:
    """A role's entry points with their options (common's phases share its main options)."""
    specs = yaml.safe_load((role / "meta" / "argument_specs.yml").read_text())["argument_specs"]
    for entry, spec in specs.items():
        if role.name == "common" and entry != "main":
            continue
        yield entry, spec.get("options") or {}


def declared_bounds(role: Path) -> Any:
    """The role's meta/input_bounds.yml, as read by the common role's check."""
    return yaml.safe_load((role / "meta" / "input_bounds.yml").read_text())
