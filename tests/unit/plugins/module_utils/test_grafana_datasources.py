"""Grafana's data sources: one per signal, links written once for every backend, each backend's own
settings read from its stack catalogue entry."""
from __future__ import annotations

import dataclasses
import itertools
from typing import Any, Dict

import pytest

from ansible_collections.observability.lgtm.plugins.module_utils import grafana_datasources as module
from ansible_collections.observability.lgtm.plugins.module_utils import stack_catalogue
from ansible_collections.observability.lgtm.plugins.module_utils.grafana_datasources import (
    DatasourceError, grafana_datasources)
from ansible_collections.observability.lgtm.plugins.module_utils.stack_catalogue import CATALOGUE

CHOICES = list(itertools.product(["tempo", "jaeger"], ["mimir", "prometheus"], ["loki", "victorialogs"]))
CREDENTIALS = {signal: {"username": f"{signal}-user", "password": f"{signal}-secret"}
               for signal in stack_catalogue.SIGNALS}


def wired(traces: str, metrics: str, logs: str) -> Dict[str, Any]:
    """A wiring_endpoints fact with the keys the data sources read, URLs naming their backend."""
    return {"traces": {"type": traces, "query": f"http://{traces}:1/q"},
            "metrics": {"type": metrics, "query": f"http://{metrics}:2/q", "http": "unused"},
            "logs": {"type": logs, "http": f"http://{logs}:3"}}


def by_uid(sources: list) -> Dict[str, Dict[str, Any]]:
    return {source["uid"]: source for source in sources}


@pytest.mark.parametrize("traces,metrics,logs", CHOICES, ids=["-".join(choice) for choice in CHOICES])
def test_every_choice_gives_one_source_per_signal_with_the_catalogues_plugin(traces, metrics, logs) -> None:
    sources = by_uid(grafana_datasources(wired(traces, metrics, logs)))
    assert list(sources) == ["lgtm-traces", "lgtm-metrics", "lgtm-logs"]
    for uid, name, url in (("lgtm-traces", traces, f"http://{traces}:1/q"),
                           ("lgtm-metrics", metrics, f"http://{metrics}:2/q"), ("lgtm-logs", logs, f"http://{logs}:3")):
        own = CATALOGUE[name].datasource
        assert (sources[uid]["type"], sources[uid]["name"], sources[uid]["url"]) == (own.type, own.name, url)
        assert sources[uid]["access"] == "proxy"
    assert [uid for uid, source in sources.items() if source.get("isDefault")] == ["lgtm-traces"]
    # Every link points at a data source that exists.
    metrics_source = sources["lgtm-metrics"]["jsonData"]
    assert metrics_source["exemplarTraceIdDestinations"] == [{"name": "trace_id", "datasourceUid": "lgtm-traces"}]
    assert metrics_source["prometheusType"] == CATALOGUE[metrics].datasource.json_data["prometheusType"]
    assert sources["lgtm-logs"]["jsonData"]["derivedFields"][0]["datasourceUid"] == "lgtm-traces"
    assert sources["lgtm-traces"]["jsonData"]["tracesToMetrics"]["datasourceUid"] == "lgtm-metrics"
    # Spans link to logs in LogQL: only a logs source that speaks it gets the link.
    to_logs = sources["lgtm-traces"]["jsonData"]["tracesToLogsV2"]
    assert bool(to_logs) == (logs == "loki")
    assert to_logs.get("datasourceUid", "lgtm-logs") == "lgtm-logs"
    assert ("serviceMap" in sources["lgtm-traces"]["jsonData"]) == (traces == "tempo")
    assert ("lokiSearch" in sources["lgtm-traces"]["jsonData"]) == (traces == "tempo" and logs == "loki")
    assert not any("secureJsonData" in source or "basicAuth" in source for source in sources.values())


@pytest.mark.parametrize("traces,metrics,logs", CHOICES, ids=["-".join(choice) for choice in CHOICES])
def test_a_source_logs_in_only_where_its_backend_checks_the_credential(traces, metrics, logs) -> None:
    sources = by_uid(grafana_datasources(wired(traces, metrics, logs), CREDENTIALS))
    for signal, name in (("traces", traces), ("metrics", metrics), ("logs", logs)):
        source = sources[f"lgtm-{signal}"]
        if CATALOGUE[name].checks_basic_auth:
            assert (source["basicAuth"], source["basicAuthUser"]) == (True, f"{signal}-user")
            assert source["secureJsonData"] == {"basicAuthPassword": f"{signal}-secret"}
        else:
            assert "basicAuth" not in source and "secureJsonData" not in source
    checking = {name for name, entry in CATALOGUE.items() if entry.checks_basic_auth}
    assert checking == {"jaeger", "prometheus", "victorialogs"}


def test_with_tls_every_source_checks_the_ca_which_grafana_reads_itself() -> None:
    sources = grafana_datasources(wired("jaeger", "prometheus", "victorialogs"), CREDENTIALS,
                                  tls_ca_file="/etc/grafana/tls/ca.crt")
    for source in sources:
        assert source["jsonData"]["tlsAuthWithCACert"] is True
        assert source["secureJsonData"]["tlsCACert"] == "$__file{/etc/grafana/tls/ca.crt}"
        # The login and the CA share secureJsonData.
        assert source["secureJsonData"]["basicAuthPassword"].endswith("-secret")


def test_on_kubernetes_a_backend_whose_plugin_grafana_lacks_gets_no_source_and_no_links_to_it() -> None:
    sources = by_uid(grafana_datasources(wired("tempo", "mimir", "victorialogs"), kubernetes=True))
    assert list(sources) == ["lgtm-traces", "lgtm-metrics"]
    assert "lokiSearch" not in sources["lgtm-traces"]["jsonData"]
    loki = by_uid(grafana_datasources(wired("tempo", "mimir", "loki"), kubernetes=True))
    assert loki["lgtm-traces"]["jsonData"]["lokiSearch"] == {"datasourceUid": "lgtm-logs"}


def test_a_backends_own_settings_are_read_from_its_catalogue_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    entry = CATALOGUE["prometheus"]
    changed = dataclasses.replace(entry, datasource=dataclasses.replace(
        entry.datasource, name="Renamed", json_data={"prometheusType": "Cortex", "timeInterval": "30s"}))
    monkeypatch.setitem(CATALOGUE, "prometheus", changed)
    metrics = by_uid(grafana_datasources(wired("jaeger", "prometheus", "loki")))["lgtm-metrics"]
    assert metrics["name"] == "Renamed"
    assert (metrics["jsonData"]["prometheusType"], metrics["jsonData"]["timeInterval"]) == ("Cortex", "30s")


def test_links_are_not_shared_between_sources() -> None:
    """Each source gets its own copies: a change to one (a TLS setting, Grafana's own defaults) stays there."""
    first = by_uid(grafana_datasources(wired("tempo", "mimir", "loki")))
    second = by_uid(grafana_datasources(wired("tempo", "mimir", "loki")))
    first["lgtm-metrics"]["jsonData"]["exemplarTraceIdDestinations"][0]["name"] = "changed"
    first["lgtm-traces"]["jsonData"]["tracesToMetrics"]["tags"].append({})
    assert second["lgtm-metrics"]["jsonData"]["exemplarTraceIdDestinations"][0]["name"] == "trace_id"
    assert module.TRACES_TO_METRICS["tags"] == [{"key": "service.name", "value": "service_name"}]


@pytest.mark.parametrize("endpoints,message", [
    ({"traces": {"type": "tempo"}, "metrics": {"type": "mimir"}}, "wiring_endpoints.logs.type is missing"),
    ({**wired("tempo", "mimir", "loki"), "logs": {"type": "grafana", "http": "x"}},
     "Grafana has no logs data source for grafana"),
    ({**wired("tempo", "mimir", "loki"), "traces": {"type": "loki", "query": "x"}},
     "Grafana has no traces data source for loki"),
    ({**wired("tempo", "mimir", "loki"), "metrics": {"type": "nosuch", "query": "x"}},
     "the stack catalogue has no component 'nosuch'"),
])
def test_a_wiring_without_a_servable_backend_is_refused_naming_it(endpoints, message) -> None:
    with pytest.raises((DatasourceError, stack_catalogue.CatalogueError), match=message):
        grafana_datasources(endpoints)


def test_a_credential_of_the_wrong_shape_is_refused_naming_its_variable() -> None:
    with pytest.raises(DatasourceError, match="lgtm_metrics_basic_auth must be a mapping"):
        grafana_datasources(wired("jaeger", "prometheus", "loki"), {"metrics": "user:password"})
