"""Every role refuses bad input to each of its variables, naming the variable.

The cases are generated from the roles' meta/argument_specs.yml, so a variable
added later is covered without a new test: for each option of a strict type
(bool, int, dict, list) a value of the wrong type, and for each option with
choices a value outside them, must fail Ansible's own argument validation (what
runs before a role's first task) with an error that names the option.

Options of type str or path are not generated here: Ansible converts any value
to a string for them, so the argument spec cannot refuse a mapping given where a
string belongs; each role's preflight checks the ones whose form matters
(host:port, absolute paths, durations), and the role scenarios test them.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

import pytest
import yaml

pytest.importorskip("ansible")

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator  # noqa: E402

REPO = Path(__file__).resolve().parents[3]
ROLES = sorted(path for path in (REPO / "roles").iterdir() if (path / "meta" / "argument_specs.yml").exists())

# A value each strict type refuses.
WRONG_TYPE: Dict[str, Any] = {"bool": "perhaps", "int": "many", "dict": "not-a-mapping", "list": {"not": "a list"}}


def entry_points(role: Path) -> Iterator[Tuple[str, Dict[str, Any]]]:
    """A role's entry points with their options (common's phases share its main options)."""
    specs = yaml.safe_load((role / "meta" / "argument_specs.yml").read_text())["argument_specs"]
    for entry, spec in specs.items():
        if role.name == "common" and entry != "main":
            continue
        yield entry, spec.get("options") or {}


def cases() -> List[Tuple[str, str, str, Any]]:
    generated = []
    for role in ROLES:
        for entry, options in entry_points(role):
            for name, option in options.items():
                if option.get("type") in WRONG_TYPE:
                    generated.append((role.name, entry, name, WRONG_TYPE[option["type"]]))
                if "choices" in option:
                    generated.append((role.name, entry, name, "no-such-choice"))
                if option.get("type") == "list" and option.get("elements") in ("int", "dict"):
                    generated.append((role.name, entry, name, ["not-an-element"]))
    return generated


CASES = cases()


def test_cases_cover_every_role_with_strict_options():
    # Guards against a spec change that silently generates nothing.
    assert len(CASES) >= 70
    covered = {case[0] for case in CASES}
    assert covered >= {"jaeger", "prometheus", "victorialogs", "otel_collector", "grafana", "tempo", "mimir", "loki",
                       "wiring", "common"}


@pytest.mark.parametrize(("role", "entry", "name", "value"), CASES,
                         ids=[f"{case[0]}-{case[2]}-{type(case[3]).__name__}" for case in CASES])
def test_bad_value_is_refused_naming_the_variable(role: str, entry: str, name: str, value: Any):
    options = dict(entry_points(REPO / "roles" / role))[entry]
    errors = [str(error) for error in ArgumentSpecValidator(options).validate({name: value}).errors]
    assert any(name in error for error in errors), f"{role}: {name}={value!r} was accepted: {errors}"
