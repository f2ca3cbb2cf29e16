# -*- coding: utf-8 -*-
# Copyright: observability.lgtm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where a final configuration opens connections to: the hosts and ports of its exporters'
endpoints, of its scrape targets and of its own telemetry's exporters, and whether a receiver reads the
Kubernetes API (the k8sattributes processor's informers are the caller's,
``otelcol_kubernetes_needs``). Part of stage 7 (Kubernetes needs): a workload's NetworkPolicy lets it reach these
and nothing else.

A destination is ``{"host": str, "port": int}``; ``host`` is empty where the configuration takes it
from the environment (``${env:K8S_NODE_IP}:10250``: any address, on that port). Where a
configuration connects somewhere this module cannot read off (a receiver, extension or resolver of
a kind it does not know, service discovery, a port taken from the environment), the answer is
``None``: the workload then gets no egress restriction rather than one that cuts a connection off.
"""

from __future__ import annotations

from collections.abc import Mapping
import re
from typing import Any, Dict, List, Optional, Tuple

from ansible_collections.observability.lgtm.plugins.module_utils.otelcol_spec import Config
from ansible_collections.observability.lgtm.plugins.module_utils.otelcol_values import is_loopback
from ansible_collections.observability.lgtm.plugins.module_utils.otelcol_facts import (
    canonical_type,
    component_type,
)

Destination = Dict[str, Any]

ENV_REFERENCE = re.compile(r"\$\{[^}]*\}")
ENV_MARK = "\x00"
SCHEME_PORTS = {"http": 80, "https": 443, "grpc": 443, "dns": 53}
# The loadbalancing exporter's resolvers send to this port where they name none (its README).
LOADBALANCING_PORT = 4317
# The kubeletstats receiver's endpoint when none is set: the node's kubelet (its README).
KUBELET_PORT = 10250

# Kinds whose endpoints are places they listen on or nothing at all: they open no connection.
LISTENING_RECEIVERS = frozenset({"otlp", "filelog", "hostmetrics", "journald", "jaeger", "zipkin"})
LOCAL_EXTENSIONS = frozenset({"health_check", "pprof", "zpages", "file_storage", "bearertokenauth", "basicauth",
                              "headers_setter"})
# Receivers that read the Kubernetes API with the workload's service account.
API_RECEIVERS = frozenset({"k8s_cluster", "k8sobjects", "k8s_events"})


class Unknown(Exception):
    """A connection whose destination cannot be read off the configuration."""


def host_and_port(value: str, default_scheme: str = "") -> Destination:
    """The host and port an endpoint ('host:port', 'scheme://host[:port]/path', '[v6]:port') names;
    a host from the environment is '' (any address). Unknown where the port cannot be known."""
    text = ENV_REFERENCE.sub(ENV_MARK, value.strip())
    scheme = default_scheme
    if "://" in text:
        scheme, text = text.split("://", 1)
    netloc = text.split("/", 1)[0].rsplit("@", 1)[-1]
    if netloc.startswith("["):
        host, _bracket, tail = netloc[1:].partition("]")
        port_text = tail[1:] if tail.startswith(":") else ""
    else:
        host, separator, port_text = netloc.rpartition(":")
        if not separator:
            host, port_text = netloc, ""
    if port_text:
        if not port_text.isdigit():
            raise Unknown(f"the port of {value!r}")
        port = int(port_text)
    elif scheme.lower() in SCHEME_PORTS:
        port = SCHEME_PORTS[scheme.lower()]
    else:
        raise Unknown(f"the port of {value!r}")
    if not host:
        raise Unknown(f"the host of {value!r}")
    return {"host": "" if ENV_MARK in host else host.lower(), "port": port}


def endpoint_values(value: Any) -> List[str]:
    """Every string under a key 'endpoint' or '..._endpoint', at any depth."""
    found: List[str] = []
    if isinstance(value, Mapping):
        for key, item in value.items():
            if isinstance(key, str) and (key == "endpoint" or key.endswith("_endpoint")) and isinstance(item, str):
                found.append(item)
            else:
                found += endpoint_values(item)
    elif isinstance(value, list):
        for item in value:
            found += endpoint_values(item)
    return found


# Lenient readers of the final configuration, shared by stage 7 (otelcol_kubernetes_needs too).
def mapping_at(value: Any, key: str) -> Mapping:
    """value[key] when both are mappings, else empty (overrides may hold anything; the collector checks it)."""
    item = value.get(key) if isinstance(value, Mapping) else None
    return item if isinstance(item, Mapping) else {}


def list_at(value: Mapping, key: str) -> List[Any]:
    """value[key] when it is a list, else empty."""
    item = value.get(key)
    return item if isinstance(item, list) else []


def loadbalancing_destinations(exporter: Mapping) -> List[Destination]:
    """Where a loadbalancing exporter's resolver leads: a DNS name or a static list, at their ports."""
    resolver = mapping_at(exporter, "resolver")
    if "dns" in resolver:
        dns = mapping_at(resolver, "dns")
        port = dns.get("port", LOADBALANCING_PORT)
        if not isinstance(dns.get("hostname"), str) or not str(port).isdigit():
            raise Unknown("the loadbalancing exporter's dns resolver")
        return [host_and_port(f"{dns['hostname']}:{port}")]
    if "static" in resolver:
        return [host_and_port(name if ":" in name else f"{name}:{LOADBALANCING_PORT}")
                for name in list_at(mapping_at(resolver, "static"), "hostnames") if isinstance(name, str)]
    if "k8s" in resolver:
        k8s = mapping_at(resolver, "k8s")
        ports = list_at(k8s, "ports") or [LOADBALANCING_PORT]
        if not isinstance(k8s.get("service"), str) or not all(str(port).isdigit() for port in ports):
            raise Unknown("the loadbalancing exporter's k8s resolver")
        return [host_and_port(f"{k8s['service']}:{port}") for port in ports]
    raise Unknown("the loadbalancing exporter's resolver")


def receiver_destinations(receiver_id: str, receiver: Mapping) -> Tuple[List[Destination], bool]:
    """The places a receiver pulls from, and whether it reads the Kubernetes API."""
    kind = canonical_type("receivers", component_type(receiver_id))
    if kind in LISTENING_RECEIVERS:
        return [], False
    if kind in API_RECEIVERS:
        return [], True
    if kind == "kubeletstats":
        endpoint = receiver.get("endpoint")
        return ([host_and_port(endpoint, "https")] if isinstance(endpoint, str)
                else [{"host": "", "port": KUBELET_PORT}]), False
    if kind == "prometheus":
        destinations: List[Destination] = []
        for job in list_at(mapping_at(receiver, "config"), "scrape_configs"):
            job = job if isinstance(job, Mapping) else {}
            if any(key.endswith("_sd_configs") for key in job):
                raise Unknown(f"the targets {receiver_id} discovers")
            scheme = job.get("scheme", "http")
            for static in list_at(job, "static_configs"):
                destinations += [host_and_port(target, scheme if isinstance(scheme, str) else "http")
                                 for target in list_at(static if isinstance(static, Mapping) else {}, "targets")
                                 if isinstance(target, str)]
        return destinations, False
    raise Unknown(f"where the receiver {receiver_id} connects")


def destinations(config: Config) -> Optional[Dict[str, Any]]:
    """{'to': [destinations, each once, sorted], 'kubernetes_api': bool}, or None where one
    connection's destination cannot be read off the configuration."""
    try:
        found: List[Destination] = []
        kubernetes_api = False
        for exporter_id, exporter in mapping_at(config, "exporters").items():
            exporter = exporter if isinstance(exporter, Mapping) else {}
            if canonical_type("exporters", component_type(str(exporter_id))) == "loadbalancing":
                found += loadbalancing_destinations(exporter)
            else:
                found += [host_and_port(value) for value in endpoint_values(exporter)]
        for receiver_id, receiver in mapping_at(config, "receivers").items():
            pulled, api = receiver_destinations(str(receiver_id), receiver if isinstance(receiver, Mapping) else {})
            found += pulled
            kubernetes_api = kubernetes_api or api
        for extension_id in mapping_at(config, "extensions"):
            if component_type(str(extension_id)) not in LOCAL_EXTENSIONS:
                raise Unknown(f"where the extension {extension_id} connects")
        # The collector's own telemetry pushed over OTLP (its readers' and processors' exporters).
        found += [host_and_port(value) for value in otlp_endpoints(mapping_at(mapping_at(config, "service"), "telemetry"))]
    except Unknown:
        return None
    # A connection to loopback (an intake's hop) stays in the pod: no NetworkPolicy sees it.
    unique = {(item["host"], item["port"]): item for item in found if not is_loopback(item["host"])}
    return {"to": [unique[key] for key in sorted(unique)], "kubernetes_api": kubernetes_api}


def otlp_endpoints(value: Any, under_otlp: bool = False) -> List[str]:
    """The endpoints of the OTLP exporters in the collector's telemetry section."""
    found: List[str] = []
    if isinstance(value, Mapping):
        for key, item in value.items():
            if under_otlp and key == "endpoint" and isinstance(item, str):
                found.append(item)
            else:
                found += otlp_endpoints(item, under_otlp or (isinstance(key, str) and key.startswith("otlp")))
    elif isinstance(value, list):
        for item in value:
            found += otlp_endpoints(item, under_otlp)
    return found
