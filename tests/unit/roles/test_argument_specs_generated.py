"""The roles' meta/argument_specs.yml are what lab/generate_argument_specs.py builds from their sources.

Each component role's argument spec is generated (``make specs``) from its
meta/argument_specs_source.yml, the generic options of
roles/common/meta/generic_options.yml and its defaults/main.yml. A stale file
fails here, as does a generic option copied into a role instead of taken from
the one template, and the generator's rules are checked on a role of its own.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Dict

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "lab"))
import generate_argument_specs as generator  # noqa: E402  (lab/ is not a package)

GENERATED = generator.generated_roles()
TEMPLATES = generator.load_yaml(generator.GENERIC_OPTIONS)
# Options named like a template that say something else in their role.
OWN_BY_DESIGN = {"otel_collector_config_overrides", "otel_collector_kubernetes_storage_size"}


def test_the_component_roles_are_generated():
    assert {role.name for role in GENERATED} == {"otel_collector", "jaeger", "prometheus", "victorialogs", "grafana",
                                                 "tempo", "mimir", "loki", "demo_shop"}


def test_every_generated_spec_is_up_to_date():
    stale = [str(path.relative_to(REPO)) for path in generator.stale_specs()]
    assert not stale, f"run `make specs`: stale {stale}"


@pytest.mark.parametrize("role", GENERATED, ids=lambda path: path.name)
def test_generic_options_are_taken_from_the_templates(role: Path):
    source = generator.load_yaml(role / "meta" / generator.SOURCE_NAME)
    copied = [name for name, option in source["options"].items()
              if name[len(role.name) + 1:] in TEMPLATES and name not in OWN_BY_DESIGN
              and not (option == generator.GENERIC or (isinstance(option, dict) and generator.GENERIC in option))]
    assert not copied, f"{role.name}: write these as `generic` (roles/common/meta/generic_options.yml): {copied}"


def write_role(tmp_path: Path, options: Dict[str, Any], defaults: Dict[str, Any], facts: Dict[str, str]) -> Path:
    role = tmp_path / "x"
    (role / "meta").mkdir(parents=True)
    (role / "defaults").mkdir()
    source = {"short_description": "X.", "description": ["Runs X."], "facts": facts, "options": options}
    (role / "meta" / generator.SOURCE_NAME).write_text(yaml.safe_dump(source))
    (role / "defaults" / "main.yml").write_text(yaml.safe_dump(defaults))
    return role


def built_options(role: Path) -> Dict[str, Any]:
    return generator.role_document(role, TEMPLATES)["argument_specs"]["main"]["options"]


def test_defaults_come_from_defaults_main_and_a_computed_one_is_not_written(tmp_path: Path):
    role = write_role(tmp_path, {"x_state": "generic", "x_port": {"type": "int", "description": "Port."}},
                      {"x_state": "present", "x_port": "{{ lgtm_catalogue.x.port }}"}, {"component": "X"})
    options = built_options(role)
    assert options["x_state"]["default"] == "present"
    assert options["x_state"]["choices"] == ["present", "absent"]
    assert options["x_state"]["description"] == "C(present) installs, configures and starts X; C(absent) removes it."
    # A computed default (such as a port read from a catalogue) carries no literal default.
    assert "default" not in options["x_port"]


def test_a_default_built_of_plain_variables_is_documented():
    assert generator.documented_default("{{ x_release_url }}/x-{{ x_version }}.tar.gz") == \
        "O(x_release_url)C(/x-)O(x_version)C(.tar.gz)"
    assert generator.documented_default("{{ lgtm_artifact_mirror | default('https://github.com', true) }}") is None
    assert generator.documented_default("literal") is None


def test_overrides_replace_template_keys_and_also_adds_sentences(tmp_path: Path):
    role = write_role(tmp_path, {"x_log_level": {"generic": "log_level", "choices": ["INFO"], "also": "Loud."},
                                 "x_port": {"generic": "http_listen_port"}},
                      {"x_log_level": "INFO", "x_port": 80}, {})
    options = built_options(role)
    assert options["x_log_level"]["choices"] == ["INFO"]
    assert options["x_log_level"]["description"] == ["Log level of the service.", "Loud."]
    assert options["x_port"] == {"type": "int", "default": 80, "description": "Port of the HTTP server."}


@pytest.mark.parametrize(("options", "defaults", "facts", "problem"), [
    ({"x_state": {"type": "str", "default": "present", "description": "S."}}, {}, {},
     "x_state: write the default in defaults/main.yml"),
    ({"x_state": "generic"}, {}, {}, r"x_state: \$\{component\} is not a fact of the role"),
    ({"x_nothing": "generic"}, {}, {}, "x_nothing: no generic option 'nothing'"),
    ({"y_state": "generic"}, {}, {"component": "X"}, "y_state: an option's name starts with the role's name"),
    ({"x_state": "generic"}, {"x_state": "present", "x_other": 1}, {"component": "X"},
     r"defaults/main.yml has options missing from .*: \['x_other'\]"),
])
def test_sources_that_do_not_fit_are_refused(tmp_path: Path, options, defaults, facts, problem: str):
    with pytest.raises(generator.SourceError, match=problem):
        built_options(write_role(tmp_path, options, defaults, facts))
