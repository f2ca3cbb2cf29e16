# -*- coding: utf-8 -*-
# Copyright: observability.lgtm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A component's NetworkPolicy, built with its other Kubernetes objects (``k8s_manifests``).

Ingress: the component's pods take connections on the ports they declare (those of its
Service, its health and metrics ports), from any address; every other port is closed.

Egress, where the component says where it connects (``kubernetes.egress``: the collector's
comes from its final configuration, ``otelcol_destinations``): name resolution (port 53), each
destination on its port (a Service of the same namespace by the label its pods carry,
``app.kubernetes.io/name``; an address outside it on that port only) and, for a workload that
reads the Kubernetes API, the API server's ports. So an agent reaches the gateways and its node's
kubelet, a gateway the backends, and nothing else. A component that does not say (the backends,
Grafana, the demo) keeps its egress open: a policy that cut off what it does not know of would
break it.

A policy takes effect only where the cluster's network plugin enforces NetworkPolicy.
"""

from __future__ import annotations

import ipaddress
from typing import Any, Dict, List, Mapping, Optional

Object = Dict[str, Any]

NAME_LABEL = "app.kubernetes.io/name"
HEADLESS_SUFFIX = "-headless"
DNS_PORT = 53
# The kubernetes Service's port and the API server's usual secure port: a policy may be checked
# before or after the Service's address is translated, depending on the network plugin.
KUBERNETES_API_PORTS = (443, 6443)
LOOPBACK_HOSTS = ("localhost",)


class NetworkPolicyError(Exception):
    """A problem with the description of a component's connections (key first)."""


def service_in_namespace(host: str, namespace: str) -> Optional[str]:
    """The component whose Service a host name names in the namespace ('tempo', 'tempo.ns',
    'tempo.ns.svc[.domain]', a pod's 'name-0.name-headless.ns.svc...'); None for any other host."""
    parts = host.rstrip(".").split(".")
    if len(parts) == 1:
        service = parts[0]
    else:
        service = ""
        for index in (1, 2):
            if len(parts) > index and parts[index] == namespace and parts[index + 1:index + 2] in ([], ["svc"]):
                service = parts[index - 1]
                break
        if not service:
            return None
    return service[:-len(HEADLESS_SUFFIX)] if service.endswith(HEADLESS_SUFFIX) else service


def tcp(port: int) -> Object:
    return {"port": port, "protocol": "TCP"}


def egress_rule(destination: Mapping[str, Any], namespace: str, where: str) -> Optional[Object]:
    """One destination as an egress rule; None for the pod's own loopback."""
    host, port = destination.get("host"), destination.get("port")
    if not isinstance(host, str) or not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
        raise NetworkPolicyError(f"{where}: expected {{host: str, port: 1-65535}}, got {dict(destination)!r}")
    if host in LOOPBACK_HOSTS:
        return None
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if address is not None:
        if address.is_loopback:
            return None
        return {"to": [{"ipBlock": {"cidr": f"{address}/{address.max_prefixlen}"}}], "ports": [tcp(port)]}
    service = service_in_namespace(host, namespace) if host else None
    if service:
        return {"to": [{"podSelector": {"matchLabels": {NAME_LABEL: service}}}], "ports": [tcp(port)]}
    return {"ports": [tcp(port)]}


def network_policy(metadata: Object, selector: Mapping[str, str], ports: List[Object], kube: Mapping[str, Any],
                   path: str) -> Object:
    """The NetworkPolicy of a component's pods (the caller checks ``kubernetes.network_policy``)."""
    namespace = str(metadata.get("namespace", ""))
    declared = sorted({(port["port"], port["protocol"]) for port in ports})
    spec: Object = {"podSelector": {"matchLabels": dict(selector)}, "policyTypes": ["Ingress"],
                    "ingress": [{"ports": [{"port": port, "protocol": protocol} for port, protocol in declared]}]
                    if declared else []}
    egress = kube.get("egress")
    if egress is not None:
        if not isinstance(egress, Mapping) or not isinstance(egress.get("to", []), list):
            raise NetworkPolicyError(f"{path}.egress: expected {{to: list, kubernetes_api: bool}}, got {egress!r}")
        rules = [{"ports": [{"port": DNS_PORT, "protocol": "UDP"}, tcp(DNS_PORT)]}]
        for index, destination in enumerate(egress.get("to", [])):
            if not isinstance(destination, Mapping):
                raise NetworkPolicyError(f"{path}.egress.to[{index}]: expected dict, got {type(destination).__name__}")
            rule = egress_rule(destination, namespace, f"{path}.egress.to[{index}]")
            if rule and rule not in rules:
                rules.append(rule)
        if egress.get("kubernetes_api") is True:
            api_ports = kube.get("kubernetes_api_ports") or list(KUBERNETES_API_PORTS)
            if not isinstance(api_ports, list) or not all(isinstance(port, int) and 0 < port < 65536
                                                          for port in api_ports):
                raise NetworkPolicyError(f"{path}.kubernetes_api_ports: expected a list of port numbers, got {api_ports!r}")
            rules.append({"ports": [tcp(port) for port in api_ports]})
        spec["policyTypes"].append("Egress")
        spec["egress"] = rules
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": dict(metadata), "spec": spec}
