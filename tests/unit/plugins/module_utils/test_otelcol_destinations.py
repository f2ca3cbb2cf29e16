"""Where a final collector configuration connects: the egress of its NetworkPolicy."""
from __future__ import annotations

from typing import Any, Dict

import pytest

from ansible_collections.observability.lgtm.plugins.module_utils.otelcol_destinations import (
    Unknown,
    destinations,
    host_and_port,
)


@pytest.mark.parametrize("endpoint, expected", [
    ("otelcol-gateway.observability.svc:4317", {"host": "otelcol-gateway.observability.svc", "port": 4317}),
    ("http://loki:3100/otlp", {"host": "loki", "port": 3100}),
    ("https://Mimir.Example.com/api/v1/push", {"host": "mimir.example.com", "port": 443}),
    ("http://user@vl:9428/insert", {"host": "vl", "port": 9428}),
    ("[fd00::1]:4317", {"host": "fd00::1", "port": 4317}),
    ("${env:K8S_NODE_IP}:10250", {"host": "", "port": 10250}),
    ("https://${env:K8S_NODE_IP}:10250/metrics", {"host": "", "port": 10250}),
])
def test_an_endpoint_names_its_host_and_port(endpoint: str, expected: Dict[str, Any]) -> None:
    assert host_and_port(endpoint) == expected


@pytest.mark.parametrize("endpoint", ["gateway", "gateway:${env:PORT}", "${env:ENDPOINT}", ":4317"])
def test_an_endpoint_without_a_readable_port_or_host_is_unknown(endpoint: str) -> None:
    with pytest.raises(Unknown):
        host_and_port(endpoint)


def otlp(endpoint: str) -> Dict[str, Any]:
    return {"endpoint": endpoint, "sending_queue": {"enabled": True}}


def test_exporters_scrapes_and_telemetry_are_destinations_each_once_sorted() -> None:
    config = {
        "receivers": {"otlp": {"protocols": {"grpc": {"endpoint": "0.0.0.0:4317"}}},
                      "filelog/pods": {"include": ["/var/log/pods/*/*/*.log"]},
                      "prometheus/kubelet": {"config": {"scrape_configs": [
                          {"job_name": "kubelet", "scheme": "https",
                           "static_configs": [{"targets": ["${env:K8S_NODE_IP}:10250"]}]}]}}},
        "processors": {"k8s_attributes": {}, "batch": {}},
        "exporters": {"otlp_grpc/tempo": otlp("tempo:4317"), "otlp_http/loki": otlp("http://loki:3100/otlp"),
                      "otlp_http/again": {"traces_endpoint": "http://loki:3100/otlp/v1/traces"},
                      "debug": {"verbosity": "basic"}},
        "extensions": {"health_check": {"endpoint": "0.0.0.0:13133"}, "file_storage/queue": {}},
        "service": {"telemetry": {"metrics": {"readers": [
            {"pull": {"exporter": {"prometheus": {"host": "0.0.0.0", "port": 8888}}}},
            {"periodic": {"exporter": {"otlp": {"protocol": "grpc", "endpoint": "http://self-monitor:4317"}}}}]}}},
    }
    assert destinations(config) == {
        "to": [{"host": "", "port": 10250}, {"host": "loki", "port": 3100}, {"host": "self-monitor", "port": 4317},
               {"host": "tempo", "port": 4317}],
        "kubernetes_api": False}


def test_a_receiver_that_reads_the_cluster_reads_the_api() -> None:
    assert destinations({"receivers": {"k8s_cluster": {}}}) == {"to": [], "kubernetes_api": True}


@pytest.mark.parametrize("resolver, expected", [
    ({"dns": {"hostname": "gw-headless.obs.svc"}}, [{"host": "gw-headless.obs.svc", "port": 4317}]),
    ({"dns": {"hostname": "gw-headless.obs.svc", "port": 4320}}, [{"host": "gw-headless.obs.svc", "port": 4320}]),
    ({"static": {"hostnames": ["gw1:4317", "gw2"]}}, [{"host": "gw1", "port": 4317}, {"host": "gw2", "port": 4317}]),
    ({"k8s": {"service": "gw.obs", "ports": [4317, 4318]}},
     [{"host": "gw.obs", "port": 4317}, {"host": "gw.obs", "port": 4318}]),
])
def test_the_load_balancers_resolver_names_the_gateways(resolver: Dict[str, Any], expected: Any) -> None:
    exporter = {"protocol": {"otlp": {"tls": {"insecure": True}}}, "resolver": resolver}
    config = {"exporters": {"load_balancing/gateway_traces": exporter}}
    assert destinations(config) == {"to": expected, "kubernetes_api": False}


@pytest.mark.parametrize("config", [
    {"receivers": {"prometheus": {"config": {"scrape_configs": [{"job_name": "pods", "kubernetes_sd_configs": [{}]}]}}}},
    {"receivers": {"sqlquery": {"datasource": "x"}}},
    {"extensions": {"oauth2client": {"token_url": "https://idp/token"}}},
    {"exporters": {"otlp_grpc/x": {"endpoint": "${env:BACKEND}"}}},
    {"exporters": {"load_balancing/x": {"resolver": {"aws_cloud_map": {}}}}},
])
def test_a_connection_it_cannot_read_leaves_the_egress_open(config: Dict[str, Any]) -> None:
    assert destinations(config) is None


def test_a_collector_that_only_listens_connects_nowhere() -> None:
    assert destinations({"receivers": {"otlp": {}}, "exporters": {"debug": {}}}) == {"to": [], "kubernetes_api": False}


def test_a_connection_to_loopback_stays_in_the_pod() -> None:
    """An intake's hop (an exporter to a receiver of the same collector on loopback) is no egress."""
    config = {"exporters": {"otlp_grpc/intake_traces": {"endpoint": "127.0.0.1:4319"},
                            "otlp_grpc/tempo": {"endpoint": "tempo.lab:4317"},
                            "otlp_grpc/v6": {"endpoint": "[::1]:4320"}}}
    assert destinations(config) == {"to": [{"host": "tempo.lab", "port": 4317}], "kubernetes_api": False}
