"""Every role keeps its promises about variables.

- meta/argument_specs.yml documents every default in defaults/main.yml, and a
  literal default given there equals the one in defaults/main.yml (a value read
  from the stack catalogue counts as literal: the catalogue's value);
- a component role pins the same version the lab mirror builds (lab/versions.yml).
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "lab"))
from generate_argument_specs import resolve_catalogue  # noqa: E402  (lab/ is not a package)

ROLES = sorted(p for p in (REPO / "roles").iterdir() if (p / "defaults" / "main.yml").exists())
LAB_PINS = yaml.safe_load((REPO / "lab" / "versions.yml").read_text())


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text()) or {}


def spec_options(role: Path) -> dict[str, dict]:
    """All options of all entry points, merged (an option may serve several)."""
    specs = load(role / "meta" / "argument_specs.yml")["argument_specs"]
    options: dict[str, dict] = {}
    for entry in specs.values():
        options.update(entry.get("options", {}))
    return options


@pytest.mark.parametrize("role", ROLES, ids=lambda p: p.name)
def test_every_default_is_documented_in_argument_specs(role: Path):
    undocumented = sorted(set(load(role / "defaults" / "main.yml")) - set(spec_options(role)))
    assert not undocumented, f"{role.name}: defaults missing from meta/argument_specs.yml: {undocumented}"


@pytest.mark.parametrize("role", ROLES, ids=lambda p: p.name)
def test_literal_defaults_match_argument_specs(role: Path):
    options = spec_options(role)
    mismatched = {}
    for name, value in load(role / "defaults" / "main.yml").items():
        value = resolve_catalogue(value)
        templated = isinstance(value, str) and "{{" in value
        if templated:
            # A computed default cannot be stated in the spec, so it must not be.
            if "default" in options[name]:
                mismatched[name] = ("computed in defaults", options[name]["default"])
        elif options[name].get("default") != value:
            mismatched[name] = (value, options[name].get("default"))
    assert not mismatched, f"{role.name}: defaults/main.yml vs argument_specs: {mismatched}"


def test_component_roles_pin_the_lab_versions():
    checked = {}
    for component, pins in LAB_PINS.items():
        defaults_file = REPO / "roles" / component / "defaults" / "main.yml"
        if defaults_file.exists():
            checked[component] = (load(defaults_file)[f"{component}_version"], pins["version"])
    assert all(role == lab for role, lab in checked.values()), checked
