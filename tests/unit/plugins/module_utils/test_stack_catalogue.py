"""The stack catalogue: consistent entries, the roles' defaults read it, the lab follows its licences."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from ansible_collections.observability.lgtm.plugins.module_utils import stack_catalogue
from ansible_collections.observability.lgtm.plugins.module_utils.stack_catalogue import (
    CATALOGUE, CatalogueError, default_port, lookup_path,
)

REPO = Path(__file__).resolve().parents[4]
LOOKUP = re.compile(r"lookup\('observability\.lgtm\.stack_catalogue', '([a-z_.]+)'\)")


@pytest.mark.parametrize("name", sorted(CATALOGUE))
def test_an_entry_names_only_ports_it_has(name: str) -> None:
    entry = CATALOGUE[name]
    assert entry.name == name
    for role in (entry.health_port, entry.metrics_port, entry.query_port):
        assert role == "" or role in entry.ports, (name, role)
    assert entry.health_path.startswith("/")
    assert set(entry.accepts) <= set(stack_catalogue.SIGNALS) and set(entry.serves) <= set(stack_catalogue.SIGNALS)
    for port in entry.ports.values():
        assert 0 < port.number < 65536 and port.form in ("endpoint", "port") and port.protocol in ("grpc", "http")


def test_agpl_components_are_exactly_the_grafana_stack() -> None:
    assert {name for name, entry in CATALOGUE.items() if not entry.runs_in_lab} == {"grafana", "tempo", "mimir", "loki"}


def test_the_lab_builds_exactly_what_the_catalogue_lets_it_run() -> None:
    pins = yaml.safe_load((REPO / "lab" / "versions.yml").read_text())
    components = {name for name, pin in pins.items() if "follows" not in pin}
    assert components == {name for name, entry in CATALOGUE.items() if entry.runs_in_lab}


@pytest.mark.parametrize("name", sorted(set(CATALOGUE) - {"otel_collector"}))
def test_a_roles_port_defaults_are_read_from_the_catalogue(name: str) -> None:
    """The default port is written once: each port variable's default in the role is the catalogue's lookup."""
    defaults = yaml.safe_load((REPO / "roles" / name / "defaults" / "main.yml").read_text())
    for port_name, port in CATALOGUE[name].ports.items():
        value = defaults[port.variable]
        kind = "endpoints" if port.form == "endpoint" else "ports"
        assert LOOKUP.findall(str(value)) == [f"{name}.{kind}.{port_name}"], (port.variable, value)


def test_the_collectors_spec_defaults_are_read_from_the_catalogue() -> None:
    spec = yaml.safe_load((REPO / "roles" / "otel_collector" / "defaults" / "main.yml").read_text())["otel_collector_spec"]
    for port_name, port in CATALOGUE["otel_collector"].ports.items():
        value = spec
        for key in port.variable.split(".")[1:]:
            value = value[key]
        assert LOOKUP.findall(value) == [f"otel_collector.endpoints.{port_name}"], (port.variable, value)


def test_both_metrics_backends_default_to_the_catalogues_late_metrics_window() -> None:
    """How late a metric point may arrive and still be stored is written once: the out-of-order window of every
    backend that stores metrics defaults to the catalogue's late_metrics_window."""
    windows = {"prometheus": "prometheus_out_of_order_time_window", "mimir": "mimir_out_of_order_time_window"}
    assert set(windows) == {name for name in stack_catalogue.backends() if "metrics" in CATALOGUE[name].accepts}
    for name, variable in windows.items():
        value = yaml.safe_load((REPO / "roles" / name / "defaults" / "main.yml").read_text())[variable]
        assert LOOKUP.findall(str(value)) == ["late_metrics_window"], (variable, value)
    assert lookup_path("late_metrics_window") == stack_catalogue.LATE_METRICS_WINDOW


def test_lookup_paths_return_values_and_name_what_exists() -> None:
    assert lookup_path("jaeger.ports.otlp_grpc") == default_port("jaeger", "otlp_grpc") == 4317
    assert lookup_path("prometheus.endpoints.http") == "0.0.0.0:9090"
    assert lookup_path("mimir")["query_path"] == "/prometheus"
    with pytest.raises(CatalogueError, match="no component 'nope'.*jaeger"):
        lookup_path("nope.ports")
    with pytest.raises(CatalogueError, match="no jaeger.ports.web; jaeger.ports has otlp_grpc"):
        lookup_path("jaeger.ports.web")
    with pytest.raises(CatalogueError, match="no port 'web' for jaeger"):
        default_port("jaeger", "web")


def test_each_signal_can_go_to_the_backends_that_accept_and_serve_it() -> None:
    """The wiring's default choice per signal, Grafana's stack first."""
    assert lookup_path("signal_backends") == {"traces": ["tempo", "jaeger"], "metrics": ["mimir", "prometheus"],
                                              "logs": ["loki", "victorialogs"]}
    assert lookup_path("backends") == ["tempo", "jaeger", "mimir", "prometheus", "loki", "victorialogs"]
    groups = lookup_path("inventory_groups")
    assert groups == {**{name: name for name in CATALOGUE}, "demo": "demo", "otel_agents": "otel_agents"}


@pytest.mark.parametrize("name", sorted(CATALOGUE))
def test_every_component_names_every_machine_the_roles_install_on(name: str) -> None:
    """So a machine is supported by every role or by none: the roles refuse others before any change."""
    names = CATALOGUE[name].release_architectures
    assert set(names) == set(stack_catalogue.MACHINES) and all(names.values()), (name, names)


@pytest.mark.parametrize(("host", "expected"), [
    ("x86_64", "amd64"), ("amd64", "amd64"), ("aarch64", "arm64"), ("arm64", "arm64"),
    ("ppc64le", ""), ("s390x", ""), ("armv7l", ""), ("i386", ""), ("", ""), ("X86_64", ""),
])
def test_release_architectures_name_a_hosts_machine_as_upstream_does(host: str, expected: str) -> None:
    assert stack_catalogue.release_architectures(host) == {name: expected for name in CATALOGUE}
    assert lookup_path("release_architectures.jaeger", host) == expected


def test_release_architectures_need_the_machine_and_machines_are_listed() -> None:
    with pytest.raises(CatalogueError, match="release_architectures is for one machine architecture"):
        lookup_path("release_architectures")
    assert lookup_path("machines") == ["x86_64", "aarch64"]
    assert lookup_path("grafana.release_architectures") == {"x86_64": "amd64", "aarch64": "arm64"}
    assert stack_catalogue.machine(None) == ""  # type: ignore[arg-type]


@pytest.mark.parametrize("name", sorted(stack_catalogue.backends()))
def test_every_backend_says_how_the_collector_reaches_it(name: str) -> None:
    """The pipeline filter's backend type is built from this alone (otelcol_facts.BACKEND_TYPES)."""
    entry = CATALOGUE[name]
    assert entry.ingest, name
    for protocol, way in entry.ingest.items():
        assert way.wire in stack_catalogue.INGEST_WIRES, (name, protocol)
        assert way.port in entry.ports, (name, protocol)
        assert not way.path or way.path.startswith("/"), (name, protocol)
        assert entry.ingest_paths.get(protocol, "") == way.path, (name, protocol)
        assert (entry.ports[way.port].protocol == "grpc") == (way.wire == "otlp_grpc"), (name, protocol)
