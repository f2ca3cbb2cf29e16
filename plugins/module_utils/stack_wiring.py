# -*- coding: utf-8 -*-
# Copyright: observability.lgtm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The wiring: from the inventory, where every component of the stack is reached.

One stage: inventory groups, each host's own settings and the chosen backend of
each signal go in; the endpoints fact (``wiring_endpoints``) comes out, which
the plays of site.yml, the pipeline spec and Grafana's data sources are built
from. Default ports come from the stack catalogue; a host's own role variable
(inventory or fact) wins over it.
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Mapping, Sequence

from ansible_collections.observability.lgtm.plugins.module_utils.k8s_manifests import headless_service_name
from ansible_collections.observability.lgtm.plugins.module_utils.stack_catalogue import Component, component

# On a host that also runs a collector, the traces backend's OTLP receivers
# move this many ports up, off the collector's.
TRACES_OTLP_OFFSET = 10000
# A cluster's components are reached at their Services in this namespace unless the host says otherwise.
DEFAULT_NAMESPACE = "observability"
# The collector's Services on Kubernetes: applications send to the agent on their node, agents to the gateway.
AGENT_SERVICE = "otelcol-agent"
GATEWAY_SERVICE = "otelcol-gateway"


class Inventory:
    """The inventory as the wiring reads it: groups and each host's variables."""

    def __init__(self, groups: Mapping[str, Sequence[str]], hostvars: Mapping[str, Mapping[str, Any]],
                 component_groups: Mapping[str, str]) -> None:
        self.groups = groups
        self.hostvars = hostvars
        self.component_groups = component_groups

    def hosts_of(self, name: str) -> List[str]:
        """The hosts of a component's inventory group (none when the group is absent)."""
        return list(self.groups.get(self.component_groups[name], []) or [])

    def first_host(self, name: str) -> str:
        """The host a one-node component runs on, '' where it has none."""
        return (self.hosts_of(name) + [""])[0] if name else ""

    def variables(self, host: str) -> Mapping[str, Any]:
        return self.hostvars.get(host, {}) if host else {}

    def on_kubernetes(self, host: str) -> bool:
        """The host stands for a cluster (lgtm_platform: kubernetes)."""
        return bool(host) and self.variables(host).get("lgtm_platform", "systemd") == "kubernetes"

    def address(self, host: str, service: str) -> str:
        """Where others reach a component on the host: its Service on Kubernetes, else
        the host's lgtm_address, else its ansible_host, else its inventory name."""
        if not host:
            return ""
        variables = self.variables(host)
        if self.on_kubernetes(host):
            return f"{service}.{variables.get('lgtm_kubernetes_namespace', DEFAULT_NAMESPACE)}.svc"
        return str(variables.get("lgtm_address", variables.get("ansible_host", host)))

    def port(self, entry: Component, name: str, host: str) -> int:
        """A component's port on a host: the host's own role variable if it sets one, else the catalogue's."""
        port = entry.ports[name]
        variables = self.variables(host)
        if port.variable not in variables:
            return port.number
        value = variables[port.variable]
        try:
            return int(value) if port.form == "port" else port_of(str(value))
        except (TypeError, ValueError):
            expected = "a port number" if port.form == "port" else '"host:port"'
            raise ValueError(f"{port.variable} of host {host} must be {expected}, got {value!r}") from None


def port_of(endpoint: str) -> int:
    """The port at the end of "host:port"."""
    found = re.search(r"[0-9]+$", endpoint)
    if not found:
        raise ValueError(f"{endpoint!r} does not end in a port")
    return int(found.group(0))


def stack_endpoints(inventory: Inventory, backends: Mapping[str, str], tls: bool) -> Dict[str, Any]:
    """The wiring_endpoints fact: each signal's backend, Grafana and the collectors, with addresses and URLs."""
    scheme = "https" if tls else "http"
    collectors = inventory.hosts_of("otel_collector")
    collector = (collectors + [""])[0]

    # Every host of the otel_agents group (absent: every host of the inventory) gets a collector in agent
    # mode, except where a gateway runs (that collector reads its own host) and hosts that stand for a
    # cluster (its nodes' agents are a DaemonSet).
    agents_group = inventory.component_groups.get("otel_agents", "otel_agents")
    candidates = inventory.groups.get(agents_group) if agents_group in inventory.groups \
        else inventory.groups.get("all", [])
    agents = [host for host in candidates or [] if host not in collectors and not inventory.on_kubernetes(host)]

    traces = component(backends["traces"])
    traces_host = inventory.first_host(traces.name)
    traces_address = inventory.address(traces_host, traces.name)
    # A collector on the traces backend's host, gateway or agent, keeps the OTLP ports.
    offset = TRACES_OTLP_OFFSET if traces_host in collectors + agents and not inventory.on_kubernetes(traces_host) else 0
    traces_otlp: Dict[str, str] = {}
    for protocol in ("grpc", "http"):
        port = traces.ports[f"otlp_{protocol}"]
        moved = f"{port.host}:{port.number + offset}"
        traces_otlp[protocol] = str(inventory.variables(traces_host).get(port.variable, moved))
    traces_query_port = inventory.port(traces, traces.query_port, traces_host)

    metrics = component(backends["metrics"])
    metrics_host = inventory.first_host(metrics.name)
    metrics_address = inventory.address(metrics_host, metrics.name)
    metrics_port = inventory.port(metrics, metrics.query_port, metrics_host)
    metrics_http = f"{scheme}://{metrics_address}:{metrics_port}"

    logs = component(backends["logs"])
    logs_host = inventory.first_host(logs.name)
    logs_address = inventory.address(logs_host, logs.name)
    logs_port = inventory.port(logs, logs.query_port, logs_host)

    grafana = component("grafana")
    grafana_host = inventory.first_host("grafana")
    grafana_address = inventory.address(grafana_host, "grafana")

    # The collector's ports are its role's defaults: the spec a host gives it is not read here.
    collector_entry = component("otel_collector")
    collector_address = inventory.address(collector, AGENT_SERVICE)
    collector_grpc = collector_entry.port("otlp_grpc")
    # Where agents send: one gateway host directly; several by trace ID across all of them (a fixed
    # list); on a cluster, across the gateway's pods, each by the name its headless Service gives it
    # (<pod>.<headless service>.<namespace>.svc, the pod named <gateway>-<number>): site.yml makes the
    # list from the number of pods, so the list stays fixed while a pod restarts (its traces wait
    # for it instead of going, split, to another pod).
    on_cluster = inventory.on_kubernetes(collector)
    gateway_hosts = [f"{inventory.address(host, GATEWAY_SERVICE)}:{collector_grpc}" for host in collectors]
    host_agents_backend: Dict[str, Any] = (
        {"load_balancing": {"static": gateway_hosts}} if len(collectors) > 1 and not on_cluster
        else {"endpoint": f"{collector_address}:{collector_grpc}"})
    namespace = inventory.variables(collector).get("lgtm_kubernetes_namespace", DEFAULT_NAMESPACE)
    gateway_pod = {"prefix": f"{GATEWAY_SERVICE}-",
                   "suffix": f".{headless_service_name(GATEWAY_SERVICE)}.{namespace}.svc:{collector_grpc}"}
    return {
        "traces": {
            "type": traces.name, "host": traces_host, "address": traces_address,
            "otlp_grpc_endpoint": traces_otlp["grpc"], "otlp_http_endpoint": traces_otlp["http"],
            "otlp_grpc_port": port_of(traces_otlp["grpc"]),
            "query": f"{scheme}://{traces_address}:{traces_query_port}",
            "metrics": f"{traces_address}:{inventory.port(traces, traces.metrics_port, traces_host)}",
        },
        "metrics": {
            "type": metrics.name, "host": metrics_host, "address": metrics_address, "port": metrics_port,
            "http": metrics_http, "query": metrics_http + metrics.query_path,
        },
        "logs": {
            "type": logs.name, "host": logs_host, "address": logs_address, "port": logs_port,
            "http": f"{scheme}://{logs_address}:{logs_port}",
        },
        "grafana": {
            "host": grafana_host, "address": grafana_address,
            "http": (f"{scheme}://{grafana_address}:{inventory.port(grafana, grafana.query_port, grafana_host)}"
                     if grafana_host else ""),
        },
        "otel_collector": {
            "hosts": collectors, "agents": agents, "address": collector_address,
            "otlp_http": f"{scheme}://{collector_address}:{collector_entry.port('otlp_http')}",
            "otlp_grpc": f"{collector_address}:{collector_grpc}",
            "gateway_otlp_grpc": f"{inventory.address(collector, GATEWAY_SERVICE)}:{collector_grpc}",
            "host_agents_backend": host_agents_backend,
            "gateway_pod": gateway_pod if on_cluster else {},
            "kubernetes": on_cluster,
        },
    }
