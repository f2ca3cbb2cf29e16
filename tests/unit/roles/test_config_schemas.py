"""The configurations the Grafana-stack roles render, checked against upstream's schema.

Grafana, Loki, Tempo and Mimir cannot run in the lab, so each role's final
configuration variable is rendered with Ansible's own templating (defaults and
vars of the role, plus a few override sets) and every key path and value type
is checked against the schema of the pinned release (config_schemas/, written
by lab/config_schema.py from the upstream reference).
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from config_schema_check import Schema, check, load_schema  # noqa: E402

pytest.importorskip("ansible")
from ansible.parsing.dataloader import DataLoader  # noqa: E402
from ansible.template import Templar, trust_as_template  # noqa: E402

REPO = Path(__file__).resolve().parents[3]
# The variable holding each role's final configuration (see its vars/main.yml).
CONFIG_VARIABLE = {"tempo": "tempo_config", "mimir": "mimir_config", "loki": "loki_config", "grafana": "grafana_ini"}
# Collection-wide variables the roles read.
COLLECTION_VARS = {"lgtm_install_root": "/opt/observability-lgtm"}

# (case id, role, variables set on top of the role's defaults)
CASES: list[tuple[str, str, dict]] = [
    ("defaults", "tempo", {}),
    ("metrics-generator", "tempo", {
        "tempo_metrics_generator_enabled": True,
        "tempo_metrics_generator_remote_write_url": "http://127.0.0.1:9009/api/v1/push",
    }),
    ("overrides", "tempo", {
        "tempo_block_retention": "48h",
        "tempo_config_overrides": {"server": {"log_format": "json"},
                                   "overrides": {"defaults": {"ingestion": {"rate_limit_bytes": 50000000}}}},
    }),
    ("defaults", "mimir", {}),
    ("overrides", "mimir", {
        "mimir_blocks_retention_period": "30d",
        "mimir_config_overrides": {"limits": {"ingestion_rate": 50000},
                                   "blocks_storage": {"tsdb": {"retention_period": "12h"}}},
    }),
    ("defaults", "loki", {}),
    ("overrides", "loki", {
        "loki_auth_enabled": True,
        "loki_retention_period": "0s",
        "loki_config_overrides": {"limits_config": {"ingestion_rate_mb": 16},
                                  "server": {"log_format": "json"}},
    }),
    ("defaults", "grafana", {}),
    ("overrides", "grafana", {
        "grafana_anonymous_enabled": True,
        "grafana_ini_overrides": {"server": {"root_url": "https://grafana.example.com/"},
                                  "users": {"default_theme": "light"},
                                  "feature_toggles": {"someToggle": True},
                                  "plugin.grafana-image-renderer": {"rendering_timezone": "UTC"}},
    }),
]


def trusted(value: Any) -> Any:
    """Our test data as Ansible would hold it from a trusted vars file."""
    if isinstance(value, dict):
        return {key: trusted(item) for key, item in value.items()}
    if isinstance(value, list):
        return [trusted(item) for item in value]
    return trust_as_template(value) if isinstance(value, str) else value


def render(role: str, extra: dict) -> Any:
    """The role's final configuration variable, templated as a play would."""
    loader = DataLoader()
    variables: dict = dict(COLLECTION_VARS)
    for layer in ("defaults", "vars"):
        variables.update(loader.load_from_file(str(REPO / "roles" / role / layer / "main.yml"),
                                               trusted_as_template=True) or {})
    variables.update(trusted(extra))
    return Templar(loader=loader, variables=variables).template(variables[CONFIG_VARIABLE[role]])


def role_version(role: str) -> str:
    defaults = yaml.safe_load((REPO / "roles" / role / "defaults" / "main.yml").read_text())
    return str(defaults[f"{role}_version"])


@pytest.mark.parametrize("role", sorted(CONFIG_VARIABLE))
def test_schema_describes_the_pinned_release(role: str):
    assert load_schema(role).version == role_version(role), (
        f"{role}: config_schemas/{role}.yml is for {load_schema(role).version}, the role pins "
        f"{role_version(role)}: regenerate it with lab/config_schema.py")


@pytest.mark.parametrize(("case", "role", "extra"), CASES, ids=[f"{case[1]}-{case[0]}" for case in CASES])
def test_rendered_config_matches_upstream_schema(case: str, role: str, extra: dict):
    errors = check(render(role, extra), load_schema(role))
    assert not errors, "\n".join(errors)


def test_a_misspelt_override_key_is_caught():
    schema: Schema = load_schema("tempo")
    config = render("tempo", {"tempo_config_overrides": {"storage": {"trace": {"foo": 1}}}})
    assert f"{schema.label}: unknown key storage.trace.foo" in check(config, schema)


def test_a_wrongly_typed_value_is_caught():
    schema = load_schema("loki")
    config = render("loki", {"loki_config_overrides": {"server": {"http_listen_port": "http"}}})
    assert f"{schema.label}: server.http_listen_port is str 'http', expected int" in check(config, schema)


def test_free_keys_are_accepted_where_upstream_allows_them():
    schema = load_schema("tempo")
    labels = {"tempo_metrics_generator_enabled": True,
              "tempo_metrics_generator_external_labels": {"cluster": "lab", "any_label": "x"}}
    config = render("tempo", labels)
    assert not [e for e in check(config, schema) if "external_labels" in e]
