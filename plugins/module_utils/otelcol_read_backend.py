# -*- coding: utf-8 -*-
# Copyright: observability.lgtm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Stage 2, read (backends): ``spec.backends``, where the collector sends each signal.

A backend's type and address (host and port, an endpoint, or several collectors to
balance over), its TLS, credentials, queue and timeout. Each reader raises
``SpecError`` naming the spec path; all problems of one backend are reported together.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Optional

from ansible_collections.observability.lgtm.plugins.module_utils.otelcol_spec import (
    BackendSpec, LoadBalancingSpec, Problems, SpecError, TlsSpec,
)
from ansible_collections.observability.lgtm.plugins.module_utils.otelcol_facts import (
    BACKEND_TYPES, COLLECTOR_OTLP_GRPC, COLLECTOR_OTLP_HTTP, default_port, format_version, removed_component,
)
from ansible_collections.observability.lgtm.plugins.module_utils.otelcol_read_access import read_auth
from ansible_collections.observability.lgtm.plugins.module_utils.otelcol_values import (
    check_keys, read_bool, read_duration, read_int, read_mapping, read_port_number, read_positive_duration, read_str,
    read_str_list, read_str_map,
)


def read_tls(value: Any, path: str) -> TlsSpec:
    """Client or server TLS settings."""
    mapping = read_mapping(value, path)
    check_keys(mapping, path, ("enabled", "ca_file", "cert_file", "key_file", "insecure_skip_verify", "server_name"))
    tls = TlsSpec(enabled=read_bool(mapping.get("enabled", True), f"{path}.enabled"))
    for key in ("ca_file", "cert_file", "key_file", "server_name"):
        if key in mapping:
            setattr(tls, key, read_str(mapping[key], f"{path}.{key}"))
    if "insecure_skip_verify" in mapping:
        tls.insecure_skip_verify = read_bool(mapping["insecure_skip_verify"], f"{path}.insecure_skip_verify")
    if (tls.cert_file is None) != (tls.key_file is None):
        raise SpecError(f"{path}: cert_file and key_file go together; give both or neither")
    return tls


# A host name or address, IPv6 in brackets: no scheme, port or path.
HOST_PATTERN = r"[A-Za-z0-9_.\-]+|\[[0-9A-Fa-f:]+\]"
BACKEND_KEYS = ("type", "host", "port", "protocol", "endpoint", "load_balancing", "tls", "headers", "tenant", "auth",
                "persistent", "verbosity", "queue_size", "timeout")


def read_backend(name: str, value: Any, path: str) -> BackendSpec:
    """A backend of spec.backends: its type, address and options; every problem is reported."""
    mapping = read_mapping(value, path)
    problems = Problems()
    problems.attempt(check_keys, mapping, path, BACKEND_KEYS)
    if "type" not in mapping:
        raise SpecError(f"{path}.type: missing; accepted: {', '.join(BACKEND_TYPES)}")
    backend_type = read_str(mapping["type"], f"{path}.type")
    if backend_type not in BACKEND_TYPES:
        hint = ""
        removed = removed_component("exporters", backend_type)
        if removed:
            hint = f" (the '{backend_type}' exporter was removed in collector {format_version(removed[0])}: {removed[1]})"
        raise SpecError(f"{path}.type: unknown backend type {backend_type!r}{hint}; accepted: {', '.join(BACKEND_TYPES)}")
    backend = BackendSpec(name=name, type=backend_type, path=path)
    kind = BACKEND_TYPES[backend_type]
    if kind.addressing == "none":
        allowed = ("type", "verbosity")
        problems.attempt(check_keys, {key: True for key in mapping if key in BACKEND_KEYS}, path, allowed)
        backend.verbosity = problems.attempt(read_str, mapping.get("verbosity", "basic"), f"{path}.verbosity",
                                             ("basic", "normal", "detailed"), default="basic")
        problems.raise_if_any()
        return backend
    if "verbosity" in mapping:
        problems.add(f"{path}.verbosity: only accepted for backends of type 'debug'")
    problems.attempt(read_backend_address, backend, mapping, path)
    problems.attempt(read_backend_options, backend, mapping, path)
    problems.raise_if_any()
    return backend


def read_backend_address(backend: BackendSpec, mapping: Mapping, path: str) -> None:
    """Protocol, and host/port or endpoint, of a network backend."""
    backend_type = backend.type
    kind = BACKEND_TYPES[backend_type]
    protocols = list(kind.protocols)
    backend.protocol = read_str(mapping.get("protocol", protocols[0]), f"{path}.protocol", protocols)
    if "load_balancing" in mapping:
        if backend_type != "otlp" or backend.protocol != "grpc":
            raise SpecError(f"{path}.load_balancing: only a backend of type 'otlp' with protocol 'grpc' balances "
                            f"(the load_balancing exporter sends OTLP/gRPC)")
        if "endpoint" in mapping:
            raise SpecError(f"{path}: give 'endpoint' (one collector) or 'load_balancing' (several), not both")
        backend.load_balancing = read_load_balancing(mapping["load_balancing"], f"{path}.load_balancing")
        return
    if kind.addressing == "endpoint":
        if "host" in mapping or "port" in mapping:
            raise SpecError(f"{path}: backends of type {backend_type!r} take 'endpoint' (a URL for http, host:port "
                            f"for grpc), not host/port")
        if "endpoint" not in mapping:
            raise SpecError(f"{path}.endpoint: missing; an {backend_type!r} backend needs the receiving endpoint, e.g. "
                            f"'collector.example:{default_port(COLLECTOR_OTLP_GRPC)}' (grpc) or "
                            f"'https://otlp.example:{default_port(COLLECTOR_OTLP_HTTP)}' "
                            f"(http)")
        backend.endpoint = read_str(mapping["endpoint"], f"{path}.endpoint")
        is_grpc = kind.protocols[backend.protocol].is_grpc
        if re.search(r"\s", backend.endpoint):
            raise SpecError(f"{path}.endpoint: {backend.endpoint!r} contains white space")
        if not is_grpc and not re.match(r"https?://", backend.endpoint):
            raise SpecError(f"{path}.endpoint: an http endpoint must be a URL starting with http:// or https://, "
                            f"got {backend.endpoint!r}")
        if is_grpc and "://" in backend.endpoint:
            raise SpecError(f"{path}.endpoint: a grpc endpoint is host:port without a scheme, got {backend.endpoint!r}")
    else:
        if "endpoint" in mapping:
            raise SpecError(f"{path}.endpoint: not accepted for type {backend_type!r}; give 'host' (and optionally "
                            f"'port'); the path is derived from the backend type")
        if "host" not in mapping:
            raise SpecError(f"{path}.host: missing; the {backend_type} host name or address, e.g. '{backend_type}.lab'")
        backend.host = read_str(mapping["host"], f"{path}.host")
        if not re.fullmatch(HOST_PATTERN, backend.host):
            raise SpecError(f"{path}.host: {backend.host!r} is not a host name or address (no scheme, port or path)")
        if "port" in mapping:
            backend.port = read_int(mapping["port"], f"{path}.port", minimum=1, maximum=65535)


COLLECTOR_ADDRESS_PATTERN = re.compile(f"({HOST_PATTERN}):([0-9]+)")


def read_collector_address(value: Any, path: str) -> str:
    """Where a collector is reached: "host:port" (IPv6 as "[::1]:port"), no scheme."""
    text = read_str(value, path)
    match = COLLECTOR_ADDRESS_PATTERN.fullmatch(text)
    if not match:
        raise SpecError(f"{path}: {text!r} is not \"host:port\" (no scheme), e.g. "
                        f"'gateway-1.example:{default_port(COLLECTOR_OTLP_GRPC)}'")
    read_port_number(match.group(2), path)
    return text


def read_load_balancing(value: Any, path: str) -> LoadBalancingSpec:
    """backends.<name>.load_balancing: exactly one of dns ("name:port") and static (["host:port", ...])."""
    mapping = read_mapping(value, path)
    check_keys(mapping, path, ("dns", "static", "interval"))
    given = [key for key in ("dns", "static") if mapping.get(key)]
    if len(given) != 1:
        raise SpecError(f"{path}: give one of dns (a name every collector's address answers for, with the "
                        f"port, e.g. 'otelcol-gateway-headless.observability.svc:{default_port(COLLECTOR_OTLP_GRPC)}') "
                        f"and static (a list of 'host:port'), got {', '.join(given) or 'neither'}")
    balancing = LoadBalancingSpec()
    if "dns" in given:
        balancing.dns = read_collector_address(mapping["dns"], f"{path}.dns")
    else:
        balancing.static = [read_collector_address(item, f"{path}.static[{index}]")
                            for index, item in enumerate(read_str_list(mapping["static"], f"{path}.static"))]
        if len(set(balancing.static)) != len(balancing.static):
            raise SpecError(f"{path}.static: lists a collector twice: {balancing.static}")
    if "interval" in mapping:
        if "dns" not in given:
            raise SpecError(f"{path}.interval: only a dns name is resolved again; a static list takes none")
        balancing.interval = read_positive_duration(mapping["interval"], f"{path}.interval")
    return balancing


def read_backend_tenant(value: Any, path: str, backend_type: str, header: Optional[str]) -> str:
    """The tenant of a backend whose type has a tenant header."""
    if header is None:
        raise SpecError(f"{path}: not accepted for type {backend_type!r}, which has no tenant header; "
                        f"set the header the backend expects under 'headers'")
    return read_str(value, path)


def read_backend_options(backend: BackendSpec, mapping: Mapping, path: str) -> None:
    """The settings every network backend shares (tls, headers, tenant, auth, queue); all problems reported."""
    problems = Problems()
    kind = BACKEND_TYPES[backend.type]
    if "tls" in mapping:
        backend.tls = problems.attempt(read_tls, mapping["tls"], f"{path}.tls", default=backend.tls)
    if "headers" in mapping:
        backend.headers = problems.attempt(read_str_map, mapping["headers"], f"{path}.headers", default={})
    if "tenant" in mapping:
        tenant = problems.attempt(read_backend_tenant, mapping["tenant"], f"{path}.tenant", backend.type,
                                  kind.tenant_header)
        if tenant is not None and kind.tenant_header is not None:
            backend.headers[kind.tenant_header] = tenant
    if "auth" in mapping:
        backend.auth = problems.attempt(read_auth, mapping["auth"], f"{path}.auth")
        explicit = [name for name in backend.headers if name.lower() == "authorization"]
        if backend.auth is not None and explicit:
            problems.add(f"{path}.headers.{explicit[0]}: {path}.auth is sent as the Authorization header too; "
                         f"give one of the two")
    if "persistent" in mapping:
        backend.persistent = problems.attempt(read_bool, mapping["persistent"], f"{path}.persistent")
    if "queue_size" in mapping:
        backend.queue_size = problems.attempt(read_int, mapping["queue_size"], f"{path}.queue_size", minimum=1,
                                              default=backend.queue_size)
    if "timeout" in mapping:
        backend.timeout = problems.attempt(read_duration, mapping["timeout"], f"{path}.timeout",
                                           default=backend.timeout)
    problems.raise_if_any()
