# -*- coding: utf-8 -*-
# Copyright: observability.lgtm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The stack's catalogue: what the collection knows about each component it runs.

The one place where a component's default ports, the URL paths other
components reach it at, its health endpoint, the signals it takes in and
serves, its Grafana data source, its licence and its upstream's name of
each machine architecture are written. The roles' defaults read their ports
and architecture names from here (the ``observability.lgtm.stack_catalogue``
lookup), and so do the wiring (``observability.lgtm.stack_endpoints``), the
pipeline filter's backend types, the lab and the tests.

Adding a backend: a role folder, one ``Component`` entry in ``CATALOGUE`` and a
Molecule scenario (README, "Adding a backend").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

SIGNALS: Tuple[str, ...] = ("traces", "metrics", "logs")

# Licences that decide where a component can be proven: the lab runs only
# Apache-licensed (or similar) software; AGPL components are proven statically.
APACHE_2 = "Apache-2.0"
AGPL_3 = "AGPL-3.0"
LAB_LICENCES: Tuple[str, ...] = (APACHE_2,)

# The machine architectures the roles install on, by the name Ansible reports for
# a host (ansible_architecture, `uname -m` on Linux). Kubernetes takes images and
# is not bound to these.
MACHINES: Tuple[str, ...] = ("x86_64", "aarch64")
# Other names of the same machines, accepted in lgtm_architecture: Debian's and
# Go's (`dpkg --print-architecture`, GOARCH), which some systems also report.
MACHINE_ALIASES: Mapping[str, str] = {"amd64": "x86_64", "arm64": "aarch64"}
# Go's names of the machines (GOARCH). Every upstream of the stack names its
# release files with them (the sources are cited in tests/unit/roles/test_artifact_urls.py);
# a component whose upstream names them otherwise says so in its entry.
GO_ARCHITECTURES: Mapping[str, str] = {"x86_64": "amd64", "aarch64": "arm64"}


@dataclass(frozen=True)
class Port:
    """One listener of a component: its default number and the role variable that sets it.

    ``variable`` names the role variable a user changes it with, and ``form``
    how that variable holds it: ``endpoint`` ("host:port", the port at the end)
    or ``port`` (the number alone).
    """

    number: int
    variable: str
    form: str = "endpoint"
    # "grpc" or "http": what speaks on it.
    protocol: str = "http"
    # The address it listens on by default (endpoint form: the host part).
    host: str = "0.0.0.0"

    @property
    def endpoint(self) -> str:
        """The default "host:port"."""
        return f"{self.host}:{self.number}"


@dataclass(frozen=True)
class Ingest:
    """One way the collector sends a signal to a backend: the wire protocol, and where on the backend it arrives.

    ``wire`` is ``otlp_grpc``, ``otlp_http`` or ``remote_write`` (Prometheus remote write); ``port`` names one
    of the component's ports; ``path`` is the path on that port the collector sends to (empty: the
    exporter's own default path, /v1/<signal> for OTLP over HTTP).
    """

    wire: str
    port: str
    path: str = ""


# How much older than the newest point of its series a metric point may be and still be stored by the
# metrics backend (Prometheus' tsdb.out_of_order_time_window, Mimir's limits.out_of_order_time_window).
# It bounds the backend outage that loses no metrics: the collectors' disk queues send what they kept
# once the backend is back, oldest first but beside new points, and the backend refuses for good what
# falls outside the window (`make soak`: a 30-minute outage lost 600 of 900 points with 30m).
LATE_METRICS_WINDOW = "6h"

# The wire protocols a backend can take a signal over (Ingest.wire).
INGEST_WIRES: Tuple[str, ...] = ("otlp_grpc", "otlp_http", "remote_write")


@dataclass(frozen=True)
class Datasource:
    """How Grafana reads a backend: the data source plugin, and what of its settings is the backend's own.

    What links the signals to each other (a span to its logs and metrics, a log line or an exemplar to its
    trace) is the same whichever backend serves a signal: module_utils/grafana_datasources.py builds it.
    """

    # Grafana's plugin id.
    type: str
    # The data source's name in Grafana.
    name: str
    # The language its queries are written in: 'promql', 'logql', 'logsql', 'traceql' or 'jaeger'.
    query_language: str
    # jsonData settings of this plugin that depend on nothing else (e.g. which Prometheus flavour).
    json_data: Mapping[str, Any] = field(default_factory=dict)
    # The plugin draws a service map from the metrics data source's servicegraph metrics.
    service_map: bool = False
    # The plugin searches logs from its traces view, where the logs data source speaks LogQL.
    logs_search: bool = False
    # Grafana's release carries the plugin. Where it does not, the grafana role installs it on a
    # host; Grafana on Kubernetes runs upstream's image as it is, so the backend gets no data source there.
    in_grafana_release: bool = True


@dataclass(frozen=True)
class Component:
    """What the stack knows about one component."""

    name: str
    licence: str
    # Signals it takes in (from the collector) and serves to queries (to Grafana).
    accepts: Tuple[str, ...]
    serves: Tuple[str, ...]
    ports: Mapping[str, Port]
    # The port and path of the readiness check (GET answers 200 when ready).
    health_port: str
    health_path: str
    # The port (and path, for scrape configs) of its own Prometheus metrics.
    metrics_port: str
    metrics_path: str = "/metrics"
    # The port queries are sent to, and the path prefix of its query API.
    query_port: str = ""
    query_path: str = ""
    # How the collector can send to it, by the protocol name a pipeline spec's backend gives
    # (``protocol``); the first is the default. Empty for a component that stores no signal.
    ingest: Mapping[str, Ingest] = field(default_factory=dict)
    # The header that carries a pipeline spec backend's ``tenant``; None where it has no tenant name.
    tenant_header: Optional[str] = None
    # How Grafana reads it; None where Grafana has no data source for it.
    datasource: Optional[Datasource] = None
    # It checks the signal's basic-auth credential (lgtm_<signal>_basic_auth) on every endpoint, so
    # whoever queries it (Grafana's data source) logs in.
    checks_basic_auth: bool = False
    # Its upstream's name of each machine architecture (MACHINES) in its release file names.
    release_architectures: Mapping[str, str] = field(default_factory=lambda: dict(GO_ARCHITECTURES))

    @property
    def ingest_paths(self) -> Dict[str, str]:
        """The paths the collector sends to (OTLP over HTTP, remote write), by protocol name."""
        return {name: way.path for name, way in self.ingest.items() if way.path}

    @property
    def datasource_type(self) -> Optional[str]:
        """Grafana's data source type for it (the id of the plugin that serves it); None where Grafana has none."""
        return self.datasource.type if self.datasource else None

    @property
    def runs_in_lab(self) -> bool:
        """Whether the lab may build and run it (AGPL components are proven statically)."""
        return self.licence in LAB_LICENCES

    def port(self, name: str) -> int:
        """A default port number by its name."""
        return self.ports[name].number


CATALOGUE: Dict[str, Component] = {
    "otel_collector": Component(
        name="otel_collector", licence=APACHE_2, accepts=SIGNALS, serves=(),
        ports={
            "otlp_grpc": Port(4317, "otel_collector_spec.receivers.otlp.grpc", protocol="grpc"),
            "otlp_http": Port(4318, "otel_collector_spec.receivers.otlp.http"),
            "health": Port(13133, "otel_collector_spec.extensions.health_check"),
            "metrics": Port(8888, "otel_collector_spec.telemetry.metrics_address"),
            # The intake: where a pipeline that fans out hands its disk queue's requests to the
            # pipeline behind it, on loopback (one port per such pipeline, counting up from this one).
            "intake": Port(4319, "otel_collector_spec.persistent_queue.intake_address", protocol="grpc",
                           host="127.0.0.1"),
        },
        health_port="health", health_path="/", metrics_port="metrics"),
    "tempo": Component(
        name="tempo", licence=AGPL_3, accepts=("traces",), serves=("traces",),
        ports={
            "http": Port(3200, "tempo_http_listen_port", form="port"),
            "grpc": Port(9095, "tempo_grpc_listen_port", form="port", protocol="grpc"),
            "otlp_grpc": Port(4317, "tempo_otlp_grpc_endpoint", protocol="grpc"),
            "otlp_http": Port(4318, "tempo_otlp_http_endpoint"),
        },
        health_port="http", health_path="/ready", metrics_port="http", query_port="http",
        ingest={"grpc": Ingest("otlp_grpc", "otlp_grpc"), "http": Ingest("otlp_http", "otlp_http")},
        tenant_header="X-Scope-OrgID",
        datasource=Datasource("tempo", "Tempo", "traceql", service_map=True, logs_search=True)),
    # Jaeger v2 is built on the collector: OTLP in on the usual ports.
    "jaeger": Component(
        name="jaeger", licence=APACHE_2, accepts=("traces",), serves=("traces",),
        ports={
            "otlp_grpc": Port(4317, "jaeger_otlp_grpc_endpoint", protocol="grpc"),
            "otlp_http": Port(4318, "jaeger_otlp_http_endpoint"),
            "query_http": Port(16686, "jaeger_query_http_endpoint"),
            "query_grpc": Port(16685, "jaeger_query_grpc_endpoint", protocol="grpc"),
            # Off the collector's 13133 and 8888, so both run on one host.
            "health": Port(14133, "jaeger_health_check_endpoint"),
            "metrics": Port(14269, "jaeger_metrics_endpoint"),
        },
        health_port="health", health_path="/status", metrics_port="metrics", query_port="query_http",
        ingest={"grpc": Ingest("otlp_grpc", "otlp_grpc"), "http": Ingest("otlp_http", "otlp_http")},
        datasource=Datasource("jaeger", "Jaeger", "jaeger"), checks_basic_auth=True),
    "mimir": Component(
        name="mimir", licence=AGPL_3, accepts=("metrics",), serves=("metrics",),
        ports={
            "http": Port(9009, "mimir_http_listen_port", form="port"),
            "grpc": Port(9097, "mimir_grpc_listen_port", form="port", protocol="grpc"),
        },
        health_port="http", health_path="/ready", metrics_port="http", query_port="http", query_path="/prometheus",
        ingest={"otlp": Ingest("otlp_http", "http", "/otlp"), "remote_write": Ingest("remote_write", "http", "/api/v1/push")},
        tenant_header="X-Scope-OrgID",
        datasource=Datasource("prometheus", "Mimir", "promql", {"prometheusType": "Mimir"})),
    # Prometheus 3: OTLP needs --web.enable-otlp-receiver, remote write
    # --web.enable-remote-write-receiver; the role turns both on.
    "prometheus": Component(
        name="prometheus", licence=APACHE_2, accepts=("metrics",), serves=("metrics",),
        ports={"http": Port(9090, "prometheus_listen_address")},
        health_port="http", health_path="/-/ready", metrics_port="http", query_port="http",
        ingest={"otlp": Ingest("otlp_http", "http", "/api/v1/otlp"),
                "remote_write": Ingest("remote_write", "http", "/api/v1/write")},
        datasource=Datasource("prometheus", "Prometheus", "promql", {"prometheusType": "Prometheus"}),
        checks_basic_auth=True),
    "loki": Component(
        name="loki", licence=AGPL_3, accepts=("logs",), serves=("logs",),
        ports={
            "http": Port(3100, "loki_http_listen_port", form="port"),
            "grpc": Port(9096, "loki_grpc_listen_port", form="port", protocol="grpc"),
        },
        health_port="http", health_path="/ready", metrics_port="http", query_port="http",
        ingest={"http": Ingest("otlp_http", "http", "/otlp")},
        tenant_header="X-Scope-OrgID", datasource=Datasource("loki", "Loki", "logql")),
    # Grafana's release carries no VictoriaLogs data source: VictoriaMetrics' plugin, which the
    # grafana role installs pinned (grafana_plugin_releases).
    "victorialogs": Component(
        name="victorialogs", licence=APACHE_2, accepts=("logs",), serves=("logs",),
        ports={"http": Port(9428, "victorialogs_listen_address")},
        health_port="http", health_path="/health", metrics_port="http", query_port="http",
        # Its tenants are numeric AccountID/ProjectID headers, not a tenant name: they go under 'headers'.
        ingest={"http": Ingest("otlp_http", "http", "/insert/opentelemetry")},
        datasource=Datasource("victoriametrics-logs-datasource", "VictoriaLogs", "logsql", in_grafana_release=False),
        checks_basic_auth=True),
    "grafana": Component(
        name="grafana", licence=AGPL_3, accepts=(), serves=(),
        ports={"http": Port(3000, "grafana_http_port", form="port")},
        health_port="http", health_path="/api/health", metrics_port="http", query_port="http"),
}


# Inventory groups that are not components of the catalogue: the demo shop's, and the hosts that get a
# collector in agent mode (absent from the inventory: every host; see stack_wiring).
OTHER_GROUPS: Dict[str, str] = {"demo": "demo", "otel_agents": "otel_agents"}


def signal_backends() -> Dict[str, List[str]]:
    """The components each signal can be stored in and queried from, by signal
    (the wiring picks the one whose inventory group has a host)."""
    return {signal: [name for name, entry in CATALOGUE.items() if signal in entry.accepts and signal in entry.serves]
            for signal in SIGNALS}


def backends() -> List[str]:
    """Every component that stores and serves a signal, in the catalogue's order: the order in which
    site.yml installs them, each on the hosts of the inventory group named after it."""
    return [name for name, entry in CATALOGUE.items() if set(entry.accepts) & set(entry.serves)]


def inventory_groups() -> Dict[str, str]:
    """The default inventory group of every component (named after it) and of the demo shop."""
    return {**{name: name for name in CATALOGUE}, **OTHER_GROUPS}


def machine(name: str) -> str:
    """The machine architecture a host's name for it stands for (an alias resolved), or '' if the roles
    install on no such machine."""
    name = MACHINE_ALIASES.get(name, name) if isinstance(name, str) else ""
    return name if name in MACHINES else ""


def release_architectures(name: str) -> Dict[str, str]:
    """Each component's name, in its upstream's release files, of the machine architecture ``name``
    (ansible_architecture or an alias), e.g. {'jaeger': 'arm64', ...} for 'aarch64'; every name is ''
    where the roles install on no such machine, so a URL built from it is never a real one."""
    found = machine(name)
    return {key: entry.release_architectures[found] if found else "" for key, entry in CATALOGUE.items()}


# Top-level lookup paths that are views over the catalogue rather than one component.
VIEWS: Dict[str, Callable[[], Any]] = {"signal_backends": signal_backends, "backends": backends,
                                       "inventory_groups": inventory_groups,
                                       "late_metrics_window": lambda: LATE_METRICS_WINDOW,
                                       "machines": lambda: list(MACHINES)}
# Views for one host's machine architecture (the lookup's ``machine`` option, else the host's:
# module_utils/stack_settings.py, host_machine).
MACHINE_VIEWS: Dict[str, Callable[[str], Any]] = {"release_architectures": release_architectures,
                                                  "machine": lambda name: name}


class CatalogueError(KeyError):
    """A name the catalogue does not have; the message says which and what it has."""

    def __str__(self) -> str:
        return str(self.args[0])


def component(name: str) -> Component:
    """One component by name."""
    try:
        return CATALOGUE[name]
    except KeyError:
        raise CatalogueError(f"the stack catalogue has no component {name!r}; it has {', '.join(CATALOGUE)}") from None


def default_port(name: str, port: str) -> int:
    """A component's default port number, e.g. default_port('jaeger', 'otlp_grpc') == 4317."""
    entry = component(name)
    if port not in entry.ports:
        raise CatalogueError(f"the stack catalogue has no port {port!r} for {name}; it has {', '.join(entry.ports)}")
    return entry.port(port)


def as_data(entry: Component) -> Dict[str, Any]:
    """A component as plain data (what the lookup returns), with runs_in_lab."""
    return {
        "name": entry.name, "licence": entry.licence, "runs_in_lab": entry.runs_in_lab,
        "accepts": list(entry.accepts), "serves": list(entry.serves),
        "ports": {name: port.number for name, port in entry.ports.items()},
        "endpoints": {name: port.endpoint for name, port in entry.ports.items() if port.form == "endpoint"},
        "port_variables": {name: port.variable for name, port in entry.ports.items()},
        "health_port": entry.health_port, "health_path": entry.health_path,
        "metrics_port": entry.metrics_port, "metrics_path": entry.metrics_path,
        "query_port": entry.query_port, "query_path": entry.query_path,
        "ingest_paths": entry.ingest_paths,
        "ingest": {name: {"wire": way.wire, "port": way.port, "path": way.path} for name, way in entry.ingest.items()},
        "tenant_header": entry.tenant_header, "datasource_type": entry.datasource_type,
        "datasource": None if entry.datasource is None else {
            "type": entry.datasource.type, "name": entry.datasource.name,
            "query_language": entry.datasource.query_language, "json_data": dict(entry.datasource.json_data),
            "service_map": entry.datasource.service_map, "logs_search": entry.datasource.logs_search,
            "in_grafana_release": entry.datasource.in_grafana_release},
        "checks_basic_auth": entry.checks_basic_auth,
        "release_architectures": dict(entry.release_architectures),
    }


def lookup_path(path: str, machine_name: Optional[str] = None) -> Any:
    """A value by dotted path: 'jaeger' (the whole entry), 'jaeger.ports.otlp_grpc' (4317),
    'signal_backends' ({traces: [tempo, jaeger], ...}), 'inventory_groups' ..., and for a host's
    machine architecture (machine_name) 'machine' (that name) and 'release_architectures'
    ({jaeger: arm64, ...})."""
    name, rest = (path.split(".", 1) + [""])[:2]
    if name in MACHINE_VIEWS:
        if machine_name is None:
            raise CatalogueError(f"the stack catalogue's {name} is for one machine architecture; give it "
                                 f"(the lookup's machine option)")
        value: Any = MACHINE_VIEWS[name](machine_name)
    else:
        value = VIEWS[name]() if name in VIEWS else as_data(component(name))
    walked = name
    for key in rest.split(".") if rest else []:
        if not isinstance(value, dict) or key not in value:
            known = ", ".join(value) if isinstance(value, dict) else "nothing below it"
            raise CatalogueError(f"the stack catalogue has no {walked}.{key}; {walked} has {known}")
        value = value[key]
        walked = f"{walked}.{key}"
    return value
