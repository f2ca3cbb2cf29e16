"""The wiring stage alone: addresses, ports from the catalogue or the host, the traces receivers' move."""
from __future__ import annotations

from typing import Any, Dict, List

import pytest

from ansible_collections.observability.lgtm.plugins.module_utils.stack_wiring import Inventory, stack_endpoints

GROUPS = {name: name for name in ("otel_collector", "grafana", "tempo", "jaeger", "mimir", "prometheus", "loki",
                                  "victorialogs", "demo")}
BACKENDS = {"traces": "jaeger", "metrics": "prometheus", "logs": "victorialogs"}


def inventory(groups: Dict[str, List[str]], hostvars: Dict[str, Dict[str, Any]] | None = None) -> Inventory:
    hosts = {host for members in groups.values() for host in members}
    return Inventory(groups, {host: (hostvars or {}).get(host, {}) for host in hosts}, GROUPS)


def test_all_in_one_moves_the_traces_receivers_off_the_collectors_ports() -> None:
    wired = stack_endpoints(inventory({"otel_collector": ["aio"], "jaeger": ["aio"], "prometheus": ["aio"],
                                       "victorialogs": ["aio"]}), BACKENDS, tls=False)
    assert wired["traces"]["otlp_grpc_endpoint"] == "0.0.0.0:14317" and wired["traces"]["otlp_grpc_port"] == 14317
    assert wired["traces"]["query"] == "http://aio:16686" and wired["traces"]["metrics"] == "aio:14269"
    assert wired["metrics"]["query"] == "http://aio:9090" and wired["logs"]["http"] == "http://aio:9428"
    assert wired["otel_collector"] == {"hosts": ["aio"], "agents": [], "address": "aio", "otlp_http": "http://aio:4318",
                                       "otlp_grpc": "aio:4317", "gateway_otlp_grpc": "aio:4317",
                                       "host_agents_backend": {"endpoint": "aio:4317"}, "gateway_pod": {},
                                       "kubernetes": False}
    assert wired["grafana"] == {"host": "", "address": "", "http": ""}


def test_a_hosts_own_settings_win_and_tls_makes_urls_https() -> None:
    groups = {"otel_collector": ["c"], "tempo": ["t"], "mimir": ["m"], "loki": ["l"], "grafana": ["g"]}
    hostvars = {"t": {"tempo_http_listen_port": "3300", "lgtm_address": "10.9.0.1"}, "m": {"ansible_host": "m.lab"},
                "g": {"grafana_http_port": 3001}}
    wired = stack_endpoints(inventory(groups, hostvars), {"traces": "tempo", "metrics": "mimir", "logs": "loki"}, tls=True)
    assert wired["traces"]["query"] == "https://10.9.0.1:3300" and wired["traces"]["otlp_grpc_endpoint"] == "0.0.0.0:4317"
    assert wired["metrics"]["query"] == "https://m.lab:9009/prometheus"
    assert wired["grafana"]["http"] == "https://g:3001"


def test_on_kubernetes_components_are_services_in_the_namespace() -> None:
    groups = {name: ["cluster"] for name in ("otel_collector", "jaeger", "prometheus", "victorialogs")}
    hostvars = {"cluster": {"lgtm_platform": "kubernetes", "lgtm_kubernetes_namespace": "obs"}}
    wired = stack_endpoints(inventory(groups, hostvars), BACKENDS, tls=False)
    assert wired["traces"]["otlp_grpc_endpoint"] == "0.0.0.0:4317"
    assert wired["metrics"]["http"] == "http://prometheus.obs.svc:9090"
    assert wired["otel_collector"]["otlp_grpc"] == "otelcol-agent.obs.svc:4317"
    assert wired["otel_collector"]["gateway_otlp_grpc"] == "otelcol-gateway.obs.svc:4317"
    assert wired["otel_collector"]["kubernetes"] is True
    # Node agents send to each gateway pod by the name the headless Service gives it.
    assert wired["otel_collector"]["gateway_pod"] == {
        "prefix": "otelcol-gateway-", "suffix": ".otelcol-gateway-headless.obs.svc:4317"}


def test_agents_balance_over_several_gateway_hosts_and_send_to_one_directly() -> None:
    groups = {"otel_collector": ["gw1", "gw2"], "jaeger": ["j"], "prometheus": ["p"], "victorialogs": ["v"]}
    wired = stack_endpoints(inventory(groups, {"gw2": {"lgtm_address": "10.9.0.2"}}), BACKENDS, tls=False)
    assert wired["otel_collector"]["host_agents_backend"] == {"load_balancing": {"static": ["gw1:4317", "10.9.0.2:4317"]}}
    assert wired["otel_collector"]["gateway_pod"] == {}
    wired = stack_endpoints(inventory(dict(groups, otel_collector=["gw1"])), BACKENDS, tls=False)
    assert wired["otel_collector"]["host_agents_backend"] == {"endpoint": "gw1:4317"}


def test_every_host_but_the_gateways_and_clusters_gets_an_agent_by_default() -> None:
    groups = {"otel_collector": ["c"], "jaeger": ["j"], "prometheus": ["p"], "victorialogs": ["v"], "demo": ["d"],
              "all": ["c", "j", "p", "v", "d", "k"]}
    wired = stack_endpoints(inventory(groups, {"k": {"lgtm_platform": "kubernetes"}}), BACKENDS, tls=False)
    # The gateway's collector reads its own host; a host that stands for a cluster has node agents instead.
    assert wired["otel_collector"]["agents"] == ["j", "p", "v", "d"]
    # The agent on the traces host keeps the OTLP ports: the backend's receivers move up.
    assert wired["traces"]["otlp_grpc_endpoint"] == "0.0.0.0:14317"
    assert wired["otel_collector"]["otlp_grpc"] == "c:4317"


def test_the_otel_agents_group_chooses_the_agents() -> None:
    groups = {"otel_collector": ["c"], "jaeger": ["j"], "prometheus": ["p"], "victorialogs": ["v"],
              "all": ["c", "j", "p", "v"], "otel_agents": ["c", "v"]}
    wired = stack_endpoints(inventory(groups), BACKENDS, tls=False)
    assert wired["otel_collector"]["agents"] == ["v"]
    groups["otel_agents"] = []
    assert stack_endpoints(inventory(groups), BACKENDS, tls=False)["otel_collector"]["agents"] == []


def test_a_bad_host_setting_is_named() -> None:
    groups = {"otel_collector": ["c"], "jaeger": ["j"], "prometheus": ["p"], "victorialogs": ["v"]}
    with pytest.raises(ValueError, match="prometheus_listen_address of host p must be \"host:port\""):
        stack_endpoints(inventory(groups, {"p": {"prometheus_listen_address": "nowhere"}}), BACKENDS, tls=False)
