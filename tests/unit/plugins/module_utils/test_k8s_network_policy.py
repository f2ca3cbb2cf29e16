"""A component's NetworkPolicy: its own ports in, where it says it connects out."""
from __future__ import annotations

from typing import Any, Dict, List, Optional

import pytest

from ansible_collections.observability.lgtm.plugins.module_utils.k8s_network_policy import (
    NetworkPolicyError,
    network_policy,
    service_in_namespace,
)

METADATA = {"name": "otelcol-agent", "namespace": "obs", "labels": {"app.kubernetes.io/name": "otelcol-agent"}}
SELECTOR = {"app.kubernetes.io/name": "otelcol-agent", "app.kubernetes.io/part-of": "observability-lgtm"}
PORTS = [{"name": "otlp-grpc", "port": 4317, "protocol": "TCP"}, {"name": "health", "port": 13133, "protocol": "TCP"}]


def policy(kube: Dict[str, Any], ports: Optional[List[Dict[str, Any]]] = None) -> Any:
    return network_policy(METADATA, SELECTOR, PORTS if ports is None else ports, kube, "common_component.kubernetes")


@pytest.mark.parametrize("host, expected", [
    ("tempo", "tempo"), ("tempo.obs", "tempo"), ("tempo.obs.svc", "tempo"), ("tempo.obs.svc.cluster.local", "tempo"),
    ("otelcol-gateway-headless.obs.svc", "otelcol-gateway"),
    ("otelcol-gateway-0.otelcol-gateway-headless.obs.svc.cluster.local", "otelcol-gateway"),
    ("tempo.other.svc", None), ("mimir.example.com", None), ("obs.example.com", None),
])
def test_a_host_names_a_service_of_the_namespace_or_none(host: str, expected: Optional[str]) -> None:
    assert service_in_namespace(host, "obs") == expected


def test_the_pods_take_connections_on_their_declared_ports_only_and_keep_egress_open_unless_told() -> None:
    built = policy({"network_policy": True})
    assert built["apiVersion"] == "networking.k8s.io/v1" and built["kind"] == "NetworkPolicy"
    assert built["metadata"] == METADATA
    assert built["spec"] == {"podSelector": {"matchLabels": SELECTOR}, "policyTypes": ["Ingress"],
                             "ingress": [{"ports": [{"port": 4317, "protocol": "TCP"},
                                                    {"port": 13133, "protocol": "TCP"}]}]}
    assert policy({"network_policy": True}, ports=[])["spec"]["ingress"] == [], "no port: nothing comes in"


def test_egress_is_name_resolution_each_destination_and_the_api_server_where_it_is_read() -> None:
    egress = {"to": [{"host": "otelcol-gateway-headless.obs.svc", "port": 4317},
                     {"host": "otelcol-gateway.obs.svc", "port": 4317},
                     {"host": "", "port": 10250}, {"host": "mimir.example.com", "port": 443},
                     {"host": "10.1.2.3", "port": 9009}, {"host": "127.0.0.1", "port": 8888},
                     {"host": "localhost", "port": 8888}],
              "kubernetes_api": True}
    built = policy({"network_policy": True, "egress": egress})
    assert built["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert built["spec"]["egress"] == [
        {"ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]},
        {"to": [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "otelcol-gateway"}}}],
         "ports": [{"port": 4317, "protocol": "TCP"}]},
        {"ports": [{"port": 10250, "protocol": "TCP"}]},
        {"ports": [{"port": 443, "protocol": "TCP"}]},
        {"to": [{"ipBlock": {"cidr": "10.1.2.3/32"}}], "ports": [{"port": 9009, "protocol": "TCP"}]},
        {"ports": [{"port": 443, "protocol": "TCP"}, {"port": 6443, "protocol": "TCP"}]},
    ]


def test_the_api_ports_are_the_given_ones_and_only_where_the_api_is_read() -> None:
    built = policy({"network_policy": True, "egress": {"to": [], "kubernetes_api": True}, "kubernetes_api_ports": [8443]})
    assert built["spec"]["egress"][-1] == {"ports": [{"port": 8443, "protocol": "TCP"}]}
    built = policy({"network_policy": True, "egress": {"to": [], "kubernetes_api": False}})
    assert built["spec"]["egress"] == [{"ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]}]


@pytest.mark.parametrize("kube, key", [
    ({"network_policy": True, "egress": ["tempo:4317"]}, "common_component.kubernetes.egress"),
    ({"network_policy": True, "egress": {"to": [{"host": "tempo", "port": 0}]}}, "common_component.kubernetes.egress.to[0]"),
    ({"network_policy": True, "egress": {"to": ["tempo"]}}, "common_component.kubernetes.egress.to[0]"),
    ({"network_policy": True, "egress": {"to": [], "kubernetes_api": True}, "kubernetes_api_ports": ["x"]},
     "common_component.kubernetes.kubernetes_api_ports"),
])
def test_bad_input_names_the_key(kube: Dict[str, Any], key: str) -> None:
    with pytest.raises(NetworkPolicyError, match=key.replace("[", r"\[").replace("]", r"\]")):
        policy(kube)
