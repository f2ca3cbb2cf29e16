"""The configurations the Grafana-stack roles render, checked against upstream's schema.

Grafana, Loki, Tempo and Mimir cannot run in the lab, so each role's final
configuration variable is rendered with Ansible's own templating (defaults and
vars of the role, plus a few override sets) and every key path and value type
is checked against the schema of the pinned release (config_schemas/, written
by lab/config_schema.py from the upstream reference).
"""
from __future__ import annotations

import fnmatch
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
from ansible.plugins.loader import init_plugin_loader  # noqa: E402
from ansible.utils.collection_loader import AnsibleCollectionConfig  # noqa: E402

# The roles call the collection's own filters (observability.lgtm.tls_files):
# find them on ANSIBLE_COLLECTIONS_PATH, as a play would.
if AnsibleCollectionConfig.collection_finder is None:
    init_plugin_loader()

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
    ("tls", "tempo", {"lgtm_tls": True}),
    ("tls-metrics-generator", "tempo", {
        "lgtm_tls": True,
        "tempo_metrics_generator_enabled": True,
        "tempo_metrics_generator_remote_write_url": "https://127.0.0.1:9009/api/v1/push",
    }),
    ("overrides", "tempo", {
        "tempo_block_retention": "48h",
        "tempo_config_overrides": {"server": {"log_format": "json"},
                                   "overrides": {"defaults": {"ingestion": {"rate_limit_bytes": 50000000}}}},
    }),
    ("defaults", "mimir", {}),
    ("tls", "mimir", {"lgtm_tls": True}),
    ("overrides", "mimir", {
        "mimir_blocks_retention_period": "30d",
        "mimir_config_overrides": {"limits": {"ingestion_rate": 50000},
                                   "blocks_storage": {"tsdb": {"retention_period": "12h"}}},
    }),
    ("defaults", "loki", {}),
    ("tls", "loki", {"lgtm_tls": True}),
    ("overrides", "loki", {
        "loki_auth_enabled": True,
        "loki_retention_period": "0s",
        "loki_config_overrides": {"limits_config": {"ingestion_rate_mb": 16},
                                  "server": {"log_format": "json"}},
    }),
    ("defaults", "grafana", {}),
    ("tls", "grafana", {"lgtm_tls": True}),
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


def render(role: str, extra: dict, variable: str | None = None) -> Any:
    """The role's final configuration variable (or another of its variables), templated as a play would."""
    loader = DataLoader()
    variables: dict = dict(COLLECTION_VARS)
    for layer in ("defaults", "vars"):
        variables.update(loader.load_from_file(str(REPO / "roles" / role / layer / "main.yml"),
                                               trusted_as_template=True) or {})
    variables.update(trusted(extra))
    return Templar(loader=loader, variables=variables).template(variables[variable or CONFIG_VARIABLE[role]])


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


# Mutation tests: one change per schema of each kind the check exists for, each of which the
# pinned release refuses (or, for Grafana's ini, would silently misread), so each must fail
# naming the release and the key path. (case id, role, variables, the message expected)
MUTATIONS: list[tuple[str, str, dict, str]] = [
    # Keys older releases took and the pinned one does not. Tempo: "Remove deprecated
    # querier.query_live_store config. This field must be removed from configs on upgrade"
    # (CHANGELOG.md v3.0.0, #7048). Mimir: removed by 3.1.0's #15091 after the schema's
    # snapshot (its amendments). Loki: limits_config.enforce_metric_name, common in 2.x
    # configs, is not in 3.7's reference. Grafana: angular_support_enabled, which Grafana's
    # Angular deprecation page said would go in "the next major release after Grafana v11".
    ("removed-key", "tempo", {"tempo_config_overrides": {"querier": {"query_live_store": True}}},
     "tempo 3.1.0: unknown key querier.query_live_store"),
    # Tempo's receivers are the collector's config, closed: the OpenCensus receiver went in 3.0
    # ("Remove Opencensus receiver", #6523), and a misspelt OTLP key is refused as the collector would.
    ("removed-receiver", "tempo", {"tempo_config_overrides": {"distributor": {"receivers": {"opencensus": {}}}}},
     "tempo 3.1.0: unknown key distributor.receivers.opencensus"),
    ("misspelt-receiver-key", "tempo",
     {"tempo_config_overrides": {"distributor": {"receivers": {"otlp": {"protocols": {"grpc": {"endpont": "x"}}}}}}},
     "tempo 3.1.0: unknown key distributor.receivers.otlp.protocols.grpc.endpont"),
    ("removed-key", "mimir", {"mimir_config_overrides": {"frontend": {"use_active_series_decoder": True}}},
     "mimir 3.2.2: unknown key frontend.use_active_series_decoder"),
    ("removed-key", "loki", {"loki_config_overrides": {"limits_config": {"enforce_metric_name": False}}},
     "loki 3.7.8: unknown key limits_config.enforce_metric_name"),
    ("removed-key", "grafana", {"grafana_ini_overrides": {"security": {"angular_support_enabled": False}}},
     "grafana 13.2.3: unknown key security.angular_support_enabled"),
    # A value outside the set upstream names (see each schema's enum amendments).
    ("wrong-enum", "tempo", {"tempo_config_overrides": {"storage": {"trace": {"backend": "filesystem"}}}},
     "tempo 3.1.0: storage.trace.backend is 'filesystem', expected one of local, gcs, s3, azure"),
    ("wrong-enum", "mimir", {"mimir_config_overrides": {"blocks_storage": {"backend": "local"}}},
     "mimir 3.2.2: blocks_storage.backend is 'local', expected one of s3, gcs, azure, swift, filesystem"),
    ("wrong-enum-pattern", "mimir", {"mimir_config_overrides": {"ingester": {"ring": {"kvstore": {"store": "redis"}}}}},
     "mimir 3.2.2: ingester.ring.kvstore.store is 'redis', expected one of consul, etcd, inmemory, memberlist, multi"),
    ("wrong-enum", "loki", {"loki_config_overrides": {"server": {"log_level": "verbose"}}},
     "loki 3.7.8: server.log_level is 'verbose', expected one of debug, info, warn, error"),
    ("wrong-enum", "grafana", {"grafana_ini_overrides": {"database": {"type": "sqlite"}}},
     "grafana 13.2.3: database.type is 'sqlite', expected one of mysql, postgres, sqlite3"),
    # A value of another type.
    ("wrong-type", "tempo", {"tempo_config_overrides": {"server": {"http_listen_port": "http"}}},
     "tempo 3.1.0: server.http_listen_port is str 'http', expected int"),
    ("wrong-type", "mimir", {"mimir_config_overrides": {"limits": {"ingestion_rate": "fast"}}},
     "mimir 3.2.2: limits.ingestion_rate is str 'fast', expected float"),
    ("wrong-type", "loki", {"loki_config_overrides": {"limits_config": {"retention_period": 7}}},
     "loki 3.7.8: limits_config.retention_period is int 7, expected duration"),
    ("wrong-type", "grafana", {"grafana_ini_overrides": {"server": {"http_port": "http"}}},
     "grafana 13.2.3: server.http_port is str 'http', expected int"),
]


@pytest.mark.parametrize(("case", "role", "extra", "message"), MUTATIONS,
                         ids=[f"{mutation[1]}-{mutation[0]}" for mutation in MUTATIONS])
def test_a_config_the_pinned_release_refuses_fails_naming_the_release_and_the_key(
        case: str, role: str, extra: dict, message: str):
    schema = load_schema(role)
    assert message.startswith(f"{schema.label}: ")
    assert message in check(render(role, extra), schema)
    # The same role without the mutation passes (the CASES above), so the finding is the mutation's.


@pytest.mark.parametrize("role", sorted(CONFIG_VARIABLE))
def test_every_amendment_names_its_source_and_fits_the_schema(role: str):
    """Amendments are upstream's statements applied where no copy at the tag was reachable:
    each names where upstream says it; an enum's pattern matches keys of the schema, and a
    removed key is gone from it."""
    document = yaml.safe_load((Path(__file__).resolve().parent / "config_schemas" / f"{role}.yml").read_text())
    assert document.get("amendments"), f"{role}: no enum or other amendment"
    for entry in document["amendments"]:
        assert len(entry["source"]) > 40, entry
        if entry["change"] == "enum":
            assert [key for key in document["keys"] if fnmatch.fnmatchcase(key, entry["path"])], entry
            assert entry["values"], entry
        elif entry["change"] == "remove":
            assert not [key for key in document["keys"] if key == entry["path"] or key.startswith(entry["path"] + ".")]
        else:
            assert document["keys"][entry["path"]] == entry["type"], entry


@pytest.mark.parametrize("text", ["yes", "On", "1", "f", "FALSE", "n"])
def test_grafana_booleans_are_read_as_grafana_reads_them(text: str):
    """Every text gopkg.in/ini.v1's parseBool takes is a boolean to Grafana, so the check takes it too."""
    schema = load_schema("grafana")
    config = render("grafana", {"grafana_ini_overrides": {"analytics": {"reporting_enabled": text}}})
    assert not [e for e in check(config, schema) if "reporting_enabled" in e]


@pytest.mark.parametrize("text", ["enabled", "maybe", "ja", " true"])
def test_a_text_grafana_would_not_read_as_a_boolean_is_caught(text: str):
    """Grafana's MustBool keeps the default for any other text, silently; the check names the key instead."""
    schema = load_schema("grafana")
    config = render("grafana", {"grafana_ini_overrides": {"analytics": {"reporting_enabled": text}}})
    assert f"{schema.label}: analytics.reporting_enabled is str {text!r}, expected bool" in check(config, schema)


def test_free_keys_are_accepted_where_upstream_allows_them():
    schema = load_schema("tempo")
    labels = {"tempo_metrics_generator_enabled": True,
              "tempo_metrics_generator_external_labels": {"cluster": "lab", "any_label": "x"}}
    config = render("tempo", labels)
    assert not [e for e in check(config, schema) if "external_labels" in e]


# With lgtm_tls the four roles' servers serve TLS with the files the shared
# lifecycle installs (the tls_files layout under the role's config dir), their
# internal clients check the CA, the lifecycle installs the files (tls: true)
# and probes readiness over https. Key names are checked against the schema by
# the "tls" cases above; these check where they point.
TLS_DIRS = {"tempo": "/etc/tempo/tls", "mimir": "/etc/mimir/tls", "loki": "/etc/loki/tls", "grafana": "/etc/grafana/tls"}


def dig(config: dict, path: str) -> Any:
    for key in path.split("."):
        config = config[key]
    return config


@pytest.mark.parametrize("role", ["tempo", "mimir", "loki"])
def test_tls_servers_and_internal_clients_use_the_installed_files(role: str):
    tls = TLS_DIRS[role]
    config = render(role, {"lgtm_tls": True})
    for server in ("http_tls_config", "grpc_tls_config"):
        assert config["server"][server] == {"cert_file": f"{tls}/tls.crt", "key_file": f"{tls}/tls.key",
                                            "client_auth_type": "NoClientCert"}, server
    clients = {
        "tempo": ["querier.frontend_worker.grpc_client_config", "live_store_client.grpc_client_config",
                  "backend_scheduler_client.grpc_client_config"],
        "mimir": ["frontend.grpc_client_config", "frontend_worker.grpc_client_config",
                  "frontend_worker.query_scheduler_grpc_client_config", "query_scheduler.grpc_client_config",
                  "ingester_client.grpc_client_config", "querier.store_gateway_client", "ruler.ruler_client",
                  "alertmanager.alertmanager_client"],
        "loki": ["frontend.grpc_client_config", "frontend_worker.grpc_client_config",
                 "frontend_worker.query_frontend_grpc_client", "frontend_worker.query_scheduler_grpc_client",
                 "query_scheduler.grpc_client_config", "ingester_client.grpc_client_config",
                 "storage_config.tsdb_shipper.index_gateway_client.grpc_client_config", "ruler.ruler_client"],
    }[role]
    for client in clients:
        assert dig(config, client) == {"tls_enabled": True, "tls_ca_path": f"{tls}/ca.crt"}, client
    component = render(role, {"lgtm_tls": True}, f"{role}_component")
    assert component["tls"] is True
    assert component["readiness_url"].startswith("https://127.0.0.1:"), component["readiness_url"]


@pytest.mark.parametrize("role", ["tempo", "mimir", "loki", "grafana"])
def test_without_tls_nothing_changes(role: str):
    config = render(role, {})
    assert "tls" not in str(config).lower() and "cert" not in str(config).lower()
    component = render(role, {}, f"{role}_component")
    assert component["tls"] is False if "tls" in component else True
    assert component["readiness_url"].startswith("http://"), component["readiness_url"]


def test_tempo_otlp_receivers_and_remote_write_use_tls():
    tls = TLS_DIRS["tempo"]
    config = render("tempo", {"lgtm_tls": True, "tempo_metrics_generator_enabled": True,
                              "tempo_metrics_generator_remote_write_url": "https://mimir.example:9009/api/v1/push"})
    # Key names are checked against the schema (distributor.receivers is closed); the values here.
    for protocol, endpoint in (("grpc", "0.0.0.0:4317"), ("http", "0.0.0.0:4318")):
        assert config["distributor"]["receivers"]["otlp"]["protocols"][protocol] == {
            "endpoint": endpoint, "tls": {"cert_file": f"{tls}/tls.crt", "key_file": f"{tls}/tls.key"}}
    # remote_write items are Prometheus' remote-write config: the CA checks Mimir's or Prometheus' certificate.
    assert config["metrics_generator"]["storage"]["remote_write"] == [
        {"url": "https://mimir.example:9009/api/v1/push", "send_exemplars": True, "tls_config": {"ca_file": f"{tls}/ca.crt"}}]


@pytest.mark.parametrize(("extra", "endpoint"), [
    ({}, "127.0.0.1:9095"),
    ({"tempo_grpc_listen_address": "10.20.30.40"}, "10.20.30.40:9095"),
    ({"tempo_grpc_listen_address": "10.20.30.40", "tempo_grpc_listen_port": 19095, "lgtm_tls": True},
     "10.20.30.40:19095"),
])
def test_tempo_querier_worker_dials_the_frontend_where_grpc_listens(extra: dict, endpoint: str):
    # Tempo's single binary (target all) would fall back to 127.0.0.1:<grpc port> (initQuerier in
    # cmd/tempo/app/modules.go), which nothing serves when gRPC listens on one other address.
    config = render("tempo", extra)
    assert config["querier"]["frontend_worker"]["frontend_address"] == endpoint
    # One value for every module that dials this node's gRPC server.
    assert config["backend_worker"]["backend_scheduler_addr"] == endpoint
    if extra.get("lgtm_tls"):
        assert config["querier"]["frontend_worker"]["grpc_client_config"] == {
            "tls_enabled": True, "tls_ca_path": f"{TLS_DIRS['tempo']}/ca.crt"}


def test_grafana_serves_https_and_checks_it_against_the_ca():
    tls = TLS_DIRS["grafana"]
    ini = render("grafana", {"lgtm_tls": True})
    assert ini["server"]["protocol"] == "https"
    assert (ini["server"]["cert_file"], ini["server"]["cert_key"]) == (f"{tls}/tls.crt", f"{tls}/tls.key")
    component = render("grafana", {"lgtm_tls": True}, "grafana_component")
    assert component["tls"] is True and component["readiness_validate_certs"] is True
    assert component["readiness_url"] == "https://127.0.0.1:3000/api/health"
    # TLS of the user's own (through grafana_ini_overrides) is for the public name: not verified on loopback.
    own = render("grafana", {"grafana_ini_overrides": {"server": {"protocol": "https", "cert_file": "/x.crt",
                                                                  "cert_key": "/x.key"}}}, "grafana_component")
    assert own["readiness_url"].startswith("https://") and own["readiness_validate_certs"] is False
    assert own["tls"] is False


def test_grafana_installs_the_plugins_its_data_sources_use_that_the_release_lacks():
    # The plugin of each provisioned data source is checked after start; only those in
    # grafana_plugin_releases (VictoriaLogs') are installed, the release carries the rest.
    sources = {"grafana_datasources": [
        {"name": "VictoriaLogs", "type": "victoriametrics-logs-datasource", "url": "http://logs:9428"},
        {"name": "Tempo", "type": "tempo", "url": "http://traces:3200"},
        {"name": "Mimir", "type": "prometheus", "url": "http://metrics:9009/prometheus"}]}
    component = render("grafana", sources, "grafana_component")
    assert component["plugins_dir"] == "/var/lib/grafana/plugins" == render("grafana", sources)["paths"]["plugins"]
    assert [(plugin["id"], plugin["version"], plugin["checksum_algorithm"]) for plugin in component["plugins"]] == [
        ("victoriametrics-logs-datasource", "0.30.1", "sha1")]
    assert render("grafana", sources, "grafana_datasource_plugins") == [
        "prometheus", "tempo", "victoriametrics-logs-datasource"]
    assert render("grafana", sources, "grafana_plugin_pins") == {"victoriametrics-logs-datasource": "0.30.1"}
    assert render("grafana", {}, "grafana_component")["plugins"] == []
    # Grafana's preinstaller stays off: it would replace the pinned and bundled plugins with grafana.com's latest.
    assert render("grafana", sources)["plugins"] == {
        "public_key_retrieval_disabled": True, "preinstall_disabled": True, "preinstall_auto_update": False}


def test_both_metrics_backends_store_points_as_late_as_the_stack_catalogue_says():
    """The window that bounds a lossless metrics outage is one fact (the catalogue's late_metrics_window):
    Mimir gets it as its limit (its own default, 0s, would refuse every point a queue sends late) and
    Prometheus as its TSDB's; a user's value replaces it in each."""
    from ansible_collections.observability.lgtm.plugins.module_utils.stack_catalogue import LATE_METRICS_WINDOW
    assert LATE_METRICS_WINDOW == "6h"
    assert render("mimir", {})["limits"]["out_of_order_time_window"] == LATE_METRICS_WINDOW
    prometheus = render("prometheus", {}, "prometheus_config_base")
    assert prometheus["storage"]["tsdb"]["out_of_order_time_window"] == LATE_METRICS_WINDOW
    assert render("mimir", {"mimir_out_of_order_time_window": "1d"})["limits"]["out_of_order_time_window"] == "1d"
