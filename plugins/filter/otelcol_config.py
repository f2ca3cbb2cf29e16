# -*- coding: utf-8 -*-
# Copyright: observability.lgtm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Render a complete OpenTelemetry Collector configuration from a high-level spec.

Two filters live here:

* ``otelcol_config`` turns the spec described in ``docs/otelcol_config.md`` into
  the collector configuration (a dict, rendered by the role with ``to_nice_yaml``),
  after linting it.
* ``otelcol_gomemlimit`` returns the ``GOMEMLIMIT`` value that matches the
  ``memory_limiter`` settings of the same spec, for the service's environment.

The code is organised as: facts about collector versions, small typed readers
that turn spec values into Python values (raising ``SpecError`` with the spec
path on bad input), spec-level lint, rendering, overrides, and a final check of
the rendered configuration (which catches problems introduced by overrides).
Documentation for ansible-doc is in the ``otelcol_config.yml`` sidecar file.
"""

from __future__ import annotations

import base64
import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ansible.errors import AnsibleFilterError

Version = Tuple[int, int, int]
Config = Dict[str, Any]

DEFAULT_COLLECTOR_VERSION = "0.159.0"

# Oldest collector this filter renders for: `service.telemetry.metrics.readers`
# is the only self-metrics shape emitted, and older releases used `address`.
MINIMUM_COLLECTOR_VERSION: Version = (0, 111, 0)

# Component types renamed to lower snake case upstream. The old names stay as
# deprecated aliases (checked in the v0.159.0 sources: `DeprecatedType` in each
# module's metadata) that log a warning on every start, so the new name is
# emitted from the version that introduced it, the old one before.
# (kind, old type) -> (first version with the new name, new type)
TYPE_RENAMES: Dict[Tuple[str, str], Tuple[Version, str]] = {
    ("exporters", "otlp"): ((0, 144, 0), "otlp_grpc"),
    ("exporters", "otlphttp"): ((0, 144, 0), "otlp_http"),
    # contrib PR 48705, released in v0.154.0
    ("exporters", "prometheusremotewrite"): ((0, 154, 0), "prometheus_remote_write"),
    # contrib PRs 47963 and 47971, merged late April 2026; 0.152.0 is the first
    # release certain to contain them (the old alias still works anyway).
    ("connectors", "spanmetrics"): ((0, 152, 0), "span_metrics"),
    ("connectors", "servicegraph"): ((0, 152, 0), "service_graph"),
}
# new type -> old type, to accept either spelling in a spec
RENAMED_FROM: Dict[Tuple[str, str], str] = {
    (kind, new): old for (kind, old), (_version, new) in TYPE_RENAMES.items()
}

# Exporter-side batching (`sending_queue.batch` in exporterhelper) replaced the
# experimental `batcher` section in v0.123.0. From then on exporters batch by
# themselves and the batch processor is not added: batching twice only adds
# latency and memory. Older targets get the batch processor instead.
EXPORTER_BATCHING_VERSION: Version = (0, 123, 0)

SIGNALS: Tuple[str, ...] = ("traces", "metrics", "logs")

COMPONENT_KINDS: Tuple[str, ...] = ("receivers", "processors", "exporters", "connectors", "extensions")

# Component types compiled into the lab collector (lab/otelcol-builder.yaml),
# under their current names and their deprecated aliases. basicauth is not in
# the build, so backend basic auth is sent as an Authorization header.
LAB_BUILD_TYPES: Dict[str, frozenset] = {
    "receivers": frozenset({"otlp", "prometheus"}),
    "processors": frozenset({
        "memory_limiter", "batch", "resource", "attributes", "transform",
        "filter", "tail_sampling", "probabilistic_sampler",
    }),
    "exporters": frozenset({"otlp", "otlphttp", "otlp_grpc", "otlp_http", "debug", "prometheusremotewrite",
                            "prometheus_remote_write"}),
    "connectors": frozenset({"forward", "spanmetrics", "servicegraph", "span_metrics", "service_graph"}),
    "extensions": frozenset({"health_check", "file_storage", "pprof", "zpages"}),
}

# Backend types. A backend type is one row of BACKEND_TYPES: the signals it
# accepts and, per protocol, the exporter that talks to it, its default port
# and the URL path. Rendering and lint read only this table, so adding a
# backend type means adding a row (plus its docs and tests).


@dataclass(frozen=True)
class BackendProtocol:
    """How a backend type is reached over one protocol."""

    # Exporter type under its pre-rename name; TYPE_RENAMES gives the name per version.
    exporter: str
    # Default port; None for types whose spec gives the whole endpoint.
    port: Optional[int] = None
    # Appended to scheme://host:port (http exporters only). The otlphttp
    # exporter adds /v1/<signal> to it, prometheusremotewrite posts to it as is.
    path: str = ""

    @property
    def is_grpc(self) -> bool:
        return self.exporter == "otlp"


@dataclass(frozen=True)
class BackendType:
    """What a backend type accepts and how it is addressed."""

    signals: Tuple[str, ...]
    # The first protocol is the default. Empty for 'debug' (no network).
    protocols: Dict[str, BackendProtocol]
    # "host": the spec gives host (and optionally port); "endpoint": the spec
    # gives the full endpoint; "none": nothing to address (debug).
    addressing: str = "host"
    # Header that carries spec 'tenant'; None: the type has no tenants this
    # filter knows, and 'tenant' is rejected (plain 'headers' still work).
    tenant_header: Optional[str] = "X-Scope-OrgID"


OTLP_GRPC_PORT = 4317
OTLP_HTTP_PORT = 4318

BACKEND_TYPES: Dict[str, BackendType] = {
    "tempo": BackendType(signals=("traces",), protocols={
        "grpc": BackendProtocol("otlp", OTLP_GRPC_PORT),
        "http": BackendProtocol("otlphttp", OTLP_HTTP_PORT),
    }),
    "mimir": BackendType(signals=("metrics",), protocols={
        "otlp": BackendProtocol("otlphttp", 9009, "/otlp"),
        "remote_write": BackendProtocol("prometheusremotewrite", 9009, "/api/v1/push"),
    }),
    "loki": BackendType(signals=("logs",), protocols={
        "http": BackendProtocol("otlphttp", 3100, "/otlp"),
    }),
    # Jaeger v2 is built on the collector and receives OTLP on the usual ports.
    "jaeger": BackendType(signals=("traces",), tenant_header=None, protocols={
        "grpc": BackendProtocol("otlp", OTLP_GRPC_PORT),
        "http": BackendProtocol("otlphttp", OTLP_HTTP_PORT),
    }),
    # Prometheus 3: OTLP needs --web.enable-otlp-receiver, remote write needs
    # --web.enable-remote-write-receiver. Neither has a tenant header.
    "prometheus": BackendType(signals=("metrics",), tenant_header=None, protocols={
        "otlp": BackendProtocol("otlphttp", 9090, "/api/v1/otlp"),
        "remote_write": BackendProtocol("prometheusremotewrite", 9090, "/api/v1/write"),
    }),
    # VictoriaLogs tenants are numeric AccountID/ProjectID headers, not a
    # tenant name, so they go under 'headers'.
    "victorialogs": BackendType(signals=("logs",), tenant_header=None, protocols={
        "http": BackendProtocol("otlphttp", 9428, "/insert/opentelemetry"),
    }),
    "otlp": BackendType(signals=SIGNALS, addressing="endpoint", protocols={
        "grpc": BackendProtocol("otlp"),
        "http": BackendProtocol("otlphttp"),
    }),
    "debug": BackendType(signals=SIGNALS, addressing="none", protocols={}, tenant_header=None),
}


def backend_url_example(type_name: str) -> str:
    """The default endpoint of a host-addressed backend type, for messages: http://<host>:3100/otlp."""
    name, protocol = next(iter(BACKEND_TYPES[type_name].protocols.items()))
    if protocol.is_grpc:
        return f"<host>:{protocol.port} ({name})"
    return f"http://<host>:{protocol.port}{protocol.path}"


# Components removed upstream: (kind, type) -> (first version without it, what to use instead).
REMOVED_COMPONENTS: Dict[Tuple[str, str], Tuple[Version, str]] = {
    ("exporters", "logging"): ((0, 111, 0), "use a backend of type 'debug' (the debug exporter)"),
    ("exporters", "loki"): (
        (0, 131, 0),
        f"use a backend of type 'loki', which sends OTLP over HTTP to Loki's native endpoint "
        f"{backend_url_example('loki')}",
    ),
    # Only the exporter is gone: Jaeger itself takes OTLP, through the 'jaeger' backend type.
    ("exporters", "jaeger"): (
        (0, 85, 0),
        f"Jaeger accepts OTLP natively: use a backend of type 'jaeger', which sends OTLP to "
        f"{backend_url_example('jaeger')}",
    ),
    ("extensions", "memory_ballast"): ((0, 109, 0), "set GOMEMLIMIT (see the otelcol_gomemlimit filter)"),
}

# Which signals each connector type consumes (as exporter) and produces (as receiver).
# None means "the same signal on both sides" (forward).
CONNECTOR_SIGNALS: Dict[str, Optional[Tuple[Tuple[str, ...], Tuple[str, ...]]]] = {
    "spanmetrics": (("traces",), ("metrics",)),
    "servicegraph": (("traces",), ("metrics",)),
    "forward": None,
}

RECEIVER_SIGNALS: Dict[str, Tuple[str, ...]] = {
    "otlp": SIGNALS,
    "prometheus": ("metrics",),
}

# Attribute keys whose values are (nearly) unique per request, user or trace.
# As metric dimensions they create one time series per value.
HIGH_CARDINALITY_KEYS = frozenset({
    "user.id", "user_id", "userid", "enduser.id", "enduser_id", "customer.id", "customer_id",
    "http.request_id", "http.request.id", "request_id", "request.id", "requestid", "x-request-id",
    "trace_id", "trace.id", "traceid", "span_id", "span.id", "spanid",
    "session.id", "session_id", "sessionid", "correlation_id", "correlation.id",
    "transaction.id", "transaction_id", "message.id", "message_id", "messaging.message.id",
})
HIGH_CARDINALITY_PATTERN = re.compile(
    r"(^|[._-])(user|enduser|customer|request|trace|span|session|correlation|transaction|message)[._-]?id$"
)
HIGH_CARDINALITY_ADVICE = (
    "is a high-cardinality attribute (a new value per user/request/trace): as a metric dimension it creates "
    "one time series per value, which blows up metric storage (Mimir/Prometheus memory and index size) and "
    "query cost. That data belongs in traces (span attributes) or logs, not in metric labels; "
    "remove it from the metric dimensions"
)

# Processor actions that put a key onto the data (as opposed to delete/hash).
PROMOTING_ACTIONS = frozenset({"insert", "upsert", "update", "convert", "extract"})
TRANSFORM_SET_PATTERN = re.compile(r"set\(\s*(?:resource\.|datapoint\.|scope\.)?attributes\[\s*\"([^\"]+)\"\s*\]")

COMPONENT_ID_PATTERN = re.compile(r"^[a-z][a-z0-9_]*(/[A-Za-z0-9][A-Za-z0-9_.\-]*)?$")
NAME_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_.\-]*$")
DURATION_PATTERN = re.compile(r"^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$")
WILDCARD_HOSTS = frozenset({"", "0.0.0.0", "::", "[::]"})

HEALTH_CHECK_DEFAULT = "0.0.0.0:13133"
TELEMETRY_METRICS_DEFAULT = "0.0.0.0:8888"
OTLP_GRPC_DEFAULT = f"0.0.0.0:{OTLP_GRPC_PORT}"
OTLP_HTTP_DEFAULT = f"0.0.0.0:{OTLP_HTTP_PORT}"
PERSISTENT_QUEUE_STORAGE_ID = "file_storage/queue"


class SpecError(Exception):
    """A spec problem, already phrased for the user (path first)."""


# --------------------------------------------------------------------------
# Version helpers
# --------------------------------------------------------------------------

def parse_version(value: Any, path: str) -> Version:
    """Parse "0.159.0" (or "v0.159.0") into a tuple; reject anything else."""
    if not isinstance(value, str) or not re.match(r"^v?\d+\.\d+\.\d+$", value.strip()):
        raise SpecError(f"{path}: expected a collector version string like \"{DEFAULT_COLLECTOR_VERSION}\", got {value!r}")
    parts = value.strip().lstrip("v").split(".")
    version = (int(parts[0]), int(parts[1]), int(parts[2]))
    if version < MINIMUM_COLLECTOR_VERSION:
        raise SpecError(
            f"{path}: collector {value} is older than the oldest supported version "
            f"{format_version(MINIMUM_COLLECTOR_VERSION)}; accepted: {format_version(MINIMUM_COLLECTOR_VERSION)} or newer"
        )
    return version


def format_version(version: Version) -> str:
    return ".".join(str(part) for part in version)


def versioned_type(kind: str, old_type: str, version: Version) -> str:
    """The name the target collector uses for a component type (see TYPE_RENAMES)."""
    rename = TYPE_RENAMES.get((kind, old_type))
    if rename is not None and version >= rename[0]:
        return rename[1]
    return old_type


def canonical_type(kind: str, type_name: str) -> str:
    """Map a new snake_case type name back to the old name used as this module's key."""
    return RENAMED_FROM.get((kind, type_name), type_name)


def exporters_batch_themselves(version: Version) -> bool:
    return version >= EXPORTER_BATCHING_VERSION


# --------------------------------------------------------------------------
# Typed readers: each returns a clean Python value or raises SpecError
# --------------------------------------------------------------------------

def describe_type(value: Any) -> str:
    return type(value).__name__ if value is not None else "null"


def read_mapping(value: Any, path: str) -> Mapping:
    if not isinstance(value, Mapping):
        raise SpecError(f"{path}: expected a mapping (dict), got {describe_type(value)} {value!r}")
    for key in value:
        if not isinstance(key, str):
            raise SpecError(f"{path}: keys must be strings, got {describe_type(key)} {key!r}")
    return value


def check_keys(mapping: Mapping, path: str, accepted: Sequence[str]) -> None:
    unknown = sorted(key for key in mapping if key not in accepted)
    if unknown:
        raise SpecError(f"{path}.{unknown[0]}: unknown key; accepted keys: {', '.join(sorted(accepted))}")


def read_str(value: Any, path: str, choices: Optional[Sequence[str]] = None) -> str:
    if not isinstance(value, str) or not value.strip():
        raise SpecError(f"{path}: expected a non-empty string, got {describe_type(value)} {value!r}")
    if choices is not None and value not in choices:
        raise SpecError(f"{path}: {value!r} is not accepted; accepted: {', '.join(choices)}")
    return str(value)


def read_int(value: Any, path: str, minimum: int, maximum: Optional[int] = None) -> int:
    # bool is a subclass of int in Python; `true` is never a valid size.
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpecError(f"{path}: expected an integer, got {describe_type(value)} {value!r}")
    if value < minimum or (maximum is not None and value > maximum):
        upper = f" and <= {maximum}" if maximum is not None else ""
        raise SpecError(f"{path}: {value} is out of range; accepted: an integer >= {minimum}{upper}")
    return int(value)


def read_number(value: Any, path: str, minimum: float, maximum: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SpecError(f"{path}: expected a number, got {describe_type(value)} {value!r}")
    if not minimum <= value <= maximum:
        raise SpecError(f"{path}: {value} is out of range; accepted: a number from {minimum} to {maximum}")
    return float(value)


def read_bool(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        raise SpecError(f"{path}: expected true or false, got {describe_type(value)} {value!r}")
    return value


def read_duration(value: Any, path: str) -> str:
    if not isinstance(value, str) or not DURATION_PATTERN.match(value):
        raise SpecError(f"{path}: expected a Go duration string such as \"1s\", \"200ms\" or \"5m\", got {value!r}")
    return str(value)


def read_str_list(value: Any, path: str) -> List[str]:
    if not isinstance(value, list):
        raise SpecError(f"{path}: expected a list of strings, got {describe_type(value)} {value!r}")
    return [read_str(item, f"{path}[{index}]") for index, item in enumerate(value)]


def read_str_map(value: Any, path: str) -> Dict[str, str]:
    mapping = read_mapping(value, path)
    result: Dict[str, str] = {}
    for key, item in mapping.items():
        if isinstance(item, bool) or not isinstance(item, (str, int, float)):
            raise SpecError(f"{path}.{key}: expected a string value, got {describe_type(item)} {item!r}")
        result[str(key)] = str(item)
    return result


def read_component_id(value: Any, path: str) -> str:
    text = read_str(value, path)
    if not COMPONENT_ID_PATTERN.match(text):
        raise SpecError(f"{path}: {text!r} is not a component id; accepted: 'type' or 'type/name', e.g. 'attributes/scrub'")
    return text


def read_name(value: Any, path: str) -> str:
    text = read_str(value, path)
    if not NAME_PATTERN.match(text):
        raise SpecError(f"{path}: {text!r} is not a valid name; accepted: a letter followed by letters, digits, '_', '.', '-'")
    return text


@dataclass(frozen=True)
class ListenAddress:
    """A host:port a component listens on, with the spec path that set it."""

    host: str
    port: int
    path: str

    @property
    def text(self) -> str:
        host = f"[{self.host}]" if ":" in self.host and not self.host.startswith("[") else self.host
        return f"{host}:{self.port}"


def parse_host_port(value: Any, path: str) -> ListenAddress:
    """Parse an explicit "host:port" (IPv6 as "[::1]:port")."""
    text = read_str(value, path)
    match = re.match(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.\-]*):(\d+)$", text)
    if not match:
        raise SpecError(f"{path}: {text!r} is not an explicit listen address; accepted: \"host:port\", e.g. \"0.0.0.0:4317\"")
    port = int(match.group(2))
    if not 1 <= port <= 65535:
        raise SpecError(f"{path}: port {port} is out of range; accepted: 1-65535")
    if not match.group(1):
        raise SpecError(f"{path}: {text!r} has no host; bind explicitly, e.g. \"0.0.0.0:{port}\" or \"127.0.0.1:{port}\"")
    return ListenAddress(host=match.group(1).strip("[]"), port=port, path=path)


# --------------------------------------------------------------------------
# The spec as typed data
# --------------------------------------------------------------------------

@dataclass
class MemorySpec:
    limit_mib: int
    spike_limit_mib: int
    check_interval: str

    @property
    def gomemlimit_mib(self) -> int:
        # The Go runtime should start collecting garbage hard before the
        # memory_limiter's hard limit is hit: 80% of the hard limit.
        return max(1, self.limit_mib * 80 // 100)


@dataclass
class TlsSpec:
    enabled: bool = False
    ca_file: Optional[str] = None
    cert_file: Optional[str] = None
    key_file: Optional[str] = None
    insecure_skip_verify: bool = False
    server_name: Optional[str] = None


@dataclass
class BackendSpec:
    name: str
    type: str
    path: str
    protocol: str = ""
    host: Optional[str] = None
    port: Optional[int] = None
    endpoint: Optional[str] = None
    tls: TlsSpec = field(default_factory=TlsSpec)
    headers: Dict[str, str] = field(default_factory=dict)
    auth: Optional[Tuple[str, str]] = None
    persistent: Optional[bool] = None
    verbosity: str = "basic"
    queue_size: int = 1000
    timeout: str = "10s"


@dataclass
class ReceiverSpec:
    component_id: str
    type: str
    path: str
    grpc: Optional[ListenAddress] = None
    http: Optional[ListenAddress] = None
    tls: Optional[TlsSpec] = None
    scrape_configs: List[Config] = field(default_factory=list)


@dataclass
class ConnectorSpec:
    component_id: str
    type: str  # canonical (old) type name, e.g. "spanmetrics"
    path: str
    dimensions: List[str] = field(default_factory=list)
    histogram_buckets: List[str] = field(default_factory=list)
    metrics_flush_interval: Optional[str] = None
    store_ttl: Optional[str] = None
    store_max_items: Optional[int] = None


@dataclass
class SamplingSpec:
    kind: str  # "probabilistic" or "tail"
    percentage: float = 100.0
    decision_wait: str = "10s"
    num_traces: int = 50000
    policies: List[Config] = field(default_factory=list)


@dataclass
class PipelineSpec:
    pipeline_id: str
    signal: str
    path: str
    receivers: List[str]
    extra_processors: List[str]
    exporters: List[str]
    sampling: Optional[SamplingSpec] = None


@dataclass
class BatchSpec:
    flush_timeout: str = "200ms"
    min_size: int = 8192
    max_size: int = 16384


@dataclass
class Spec:
    version: Version
    memory: MemorySpec
    receivers: Dict[str, ReceiverSpec]
    backends: Dict[str, BackendSpec]
    connectors: Dict[str, ConnectorSpec]
    processors: Dict[str, Config]
    pipelines: Dict[str, PipelineSpec]
    resource_attributes: Dict[str, str]
    persistent_queue_directory: Optional[str]
    health_check: ListenAddress
    pprof: Optional[ListenAddress]
    zpages: Optional[ListenAddress]
    telemetry_metrics: ListenAddress
    telemetry_metrics_level: str
    log_level: str
    batch: BatchSpec
    overrides: Dict[str, Config]


TOP_LEVEL_KEYS = (
    "collector_version", "memory", "receivers", "backends", "connectors", "processors", "pipelines",
    "resource_attributes", "persistent_queue", "extensions", "telemetry", "batch", "overrides",
)


def read_memory(value: Any, path: str) -> MemorySpec:
    mapping = read_mapping(value, path)
    check_keys(mapping, path, ("host_mib", "limit_mib", "spike_limit_mib", "check_interval"))
    if ("host_mib" in mapping) == ("limit_mib" in mapping):
        raise SpecError(f"{path}: give exactly one of host_mib (the host's memory in MiB, the limit is derived "
                        f"from it) or limit_mib (an explicit memory_limiter limit in MiB)")
    if "host_mib" in mapping:
        host_mib = read_int(mapping["host_mib"], f"{path}.host_mib", minimum=128)
        # Leave 20% of the host for the OS and other processes.
        limit_mib = host_mib * 80 // 100
    else:
        limit_mib = read_int(mapping["limit_mib"], f"{path}.limit_mib", minimum=32)
    # The default spike allowance (20% of the limit) matches the processor's own default.
    spike_limit_mib = limit_mib * 20 // 100
    if "spike_limit_mib" in mapping:
        spike_limit_mib = read_int(mapping["spike_limit_mib"], f"{path}.spike_limit_mib", minimum=1,
                                   maximum=limit_mib - 1)
    check_interval = read_duration(mapping.get("check_interval", "1s"), f"{path}.check_interval")
    return MemorySpec(limit_mib=limit_mib, spike_limit_mib=spike_limit_mib, check_interval=check_interval)


def read_tls(value: Any, path: str) -> TlsSpec:
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


BACKEND_KEYS = ("type", "host", "port", "protocol", "endpoint", "tls", "headers", "tenant", "auth",
                "persistent", "verbosity", "queue_size", "timeout")


def read_backend(name: str, value: Any, path: str) -> BackendSpec:
    mapping = read_mapping(value, path)
    check_keys(mapping, path, BACKEND_KEYS)
    if "type" not in mapping:
        raise SpecError(f"{path}.type: missing; accepted: {', '.join(BACKEND_TYPES)}")
    backend_type = read_str(mapping["type"], f"{path}.type")
    if backend_type not in BACKEND_TYPES:
        hint = ""
        removed = REMOVED_COMPONENTS.get(("exporters", backend_type))
        if removed:
            hint = f" (the '{backend_type}' exporter was removed in collector {format_version(removed[0])}: {removed[1]})"
        raise SpecError(f"{path}.type: unknown backend type {backend_type!r}{hint}; accepted: {', '.join(BACKEND_TYPES)}")
    backend = BackendSpec(name=name, type=backend_type, path=path)
    kind = BACKEND_TYPES[backend_type]
    if kind.addressing == "none":
        allowed = ("type", "verbosity")
        check_keys(mapping, path, allowed)
        backend.verbosity = read_str(mapping.get("verbosity", "basic"), f"{path}.verbosity",
                                     ("basic", "normal", "detailed"))
        return backend
    if "verbosity" in mapping:
        raise SpecError(f"{path}.verbosity: only accepted for backends of type 'debug'")
    protocols = list(kind.protocols)
    backend.protocol = read_str(mapping.get("protocol", protocols[0]), f"{path}.protocol", protocols)
    if kind.addressing == "endpoint":
        if "host" in mapping or "port" in mapping:
            raise SpecError(f"{path}: backends of type {backend_type!r} take 'endpoint' (a URL for http, host:port "
                            f"for grpc), not host/port")
        if "endpoint" not in mapping:
            raise SpecError(f"{path}.endpoint: missing; an {backend_type!r} backend needs the receiving endpoint, e.g. "
                            f"'collector.example:{OTLP_GRPC_PORT}' (grpc) or 'https://otlp.example:{OTLP_HTTP_PORT}' "
                            f"(http)")
        backend.endpoint = read_str(mapping["endpoint"], f"{path}.endpoint")
        is_grpc = kind.protocols[backend.protocol].is_grpc
        if not is_grpc and not re.match(r"^https?://", backend.endpoint):
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
        if not re.match(r"^[A-Za-z0-9_.\-]+$|^\[[0-9A-Fa-f:]+\]$", backend.host):
            raise SpecError(f"{path}.host: {backend.host!r} is not a host name or address (no scheme, port or path)")
        if "port" in mapping:
            backend.port = read_int(mapping["port"], f"{path}.port", minimum=1, maximum=65535)
    if "tls" in mapping:
        backend.tls = read_tls(mapping["tls"], f"{path}.tls")
    if "headers" in mapping:
        backend.headers = read_str_map(mapping["headers"], f"{path}.headers")
    if "tenant" in mapping:
        if kind.tenant_header is None:
            raise SpecError(f"{path}.tenant: not accepted for type {backend_type!r}, which has no tenant header; "
                            f"set the header the backend expects under 'headers'")
        backend.headers[kind.tenant_header] = read_str(mapping["tenant"], f"{path}.tenant")
    if "auth" in mapping:
        auth = read_mapping(mapping["auth"], f"{path}.auth")
        check_keys(auth, f"{path}.auth", ("username", "password"))
        backend.auth = (read_str(auth.get("username"), f"{path}.auth.username"),
                        read_str(auth.get("password"), f"{path}.auth.password"))
    if "persistent" in mapping:
        backend.persistent = read_bool(mapping["persistent"], f"{path}.persistent")
    if "queue_size" in mapping:
        backend.queue_size = read_int(mapping["queue_size"], f"{path}.queue_size", minimum=1)
    if "timeout" in mapping:
        backend.timeout = read_duration(mapping["timeout"], f"{path}.timeout")
    return backend


def component_type(component_id: str) -> str:
    return component_id.split("/", 1)[0]


def read_receiver(component_id: str, value: Any, path: str) -> ReceiverSpec:
    receiver_type = component_type(component_id)
    mapping = read_mapping({} if value is None else value, path)
    receiver = ReceiverSpec(component_id=component_id, type=receiver_type, path=path)
    if receiver_type == "otlp":
        check_keys(mapping, path, ("grpc", "http", "tls"))
        # Explicit addresses are always emitted; null disables a protocol.
        grpc = mapping.get("grpc", OTLP_GRPC_DEFAULT)
        http = mapping.get("http", OTLP_HTTP_DEFAULT)
        receiver.grpc = None if grpc is None else parse_host_port(grpc, f"{path}.grpc")
        receiver.http = None if http is None else parse_host_port(http, f"{path}.http")
        if receiver.grpc is None and receiver.http is None:
            raise SpecError(f"{path}: both grpc and http are disabled; enable at least one")
        if "tls" in mapping:
            receiver.tls = read_tls(mapping["tls"], f"{path}.tls")
            if receiver.tls.enabled and receiver.tls.cert_file is None:
                raise SpecError(f"{path}.tls: a receiver serving TLS needs cert_file and key_file")
    elif receiver_type == "prometheus":
        check_keys(mapping, path, ("scrape_configs",))
        jobs = mapping.get("scrape_configs")
        if not isinstance(jobs, list) or not jobs:
            raise SpecError(f"{path}.scrape_configs: expected a non-empty list of jobs "
                            f"({{job_name, targets, scrape_interval, metrics_path}})")
        receiver.scrape_configs = [read_scrape_job(job, f"{path}.scrape_configs[{index}]")
                                   for index, job in enumerate(jobs)]
    else:
        raise SpecError(f"{path}: unknown receiver type {receiver_type!r}; accepted: {', '.join(sorted(RECEIVER_SIGNALS))}")
    return receiver


# A target instrumented with OpenTelemetry (the collector's own metrics, Jaeger)
# exposes its resource as `target_info`; the prometheus receiver would make that
# the series' resource, replacing the job and instance the scrape config gives
# them (a collector scraped as job "lgtm-stack" shows up as "otelcol-contrib"
# with a random instance). Dropped in the scrape loop, before the receiver.
DROP_TARGET_INFO: Config = {"source_labels": ["__name__"], "regex": "target_info", "action": "drop"}


def read_scrape_job(value: Any, path: str) -> Config:
    mapping = read_mapping(value, path)
    check_keys(mapping, path, ("job_name", "targets", "scrape_interval", "metrics_path"))
    targets = read_str_list(mapping.get("targets"), f"{path}.targets")
    if not targets:
        raise SpecError(f"{path}.targets: expected at least one 'host:port' target")
    for index, target in enumerate(targets):
        parse_host_port(target, f"{path}.targets[{index}]")
    job: Config = {
        "job_name": read_name(mapping.get("job_name"), f"{path}.job_name"),
        "scrape_interval": read_duration(mapping.get("scrape_interval", "30s"), f"{path}.scrape_interval"),
        "static_configs": [{"targets": targets}],
        "metric_relabel_configs": [DROP_TARGET_INFO],
    }
    if "metrics_path" in mapping:
        metrics_path = read_str(mapping["metrics_path"], f"{path}.metrics_path")
        if not metrics_path.startswith("/"):
            raise SpecError(f"{path}.metrics_path: must start with '/', got {metrics_path!r}")
        job["metrics_path"] = metrics_path
    return job


def read_connector(component_id: str, value: Any, path: str) -> ConnectorSpec:
    connector_type = canonical_type("connectors", component_type(component_id))
    mapping = read_mapping({} if value is None else value, path)
    connector = ConnectorSpec(component_id=component_id, type=connector_type, path=path)
    if connector_type == "spanmetrics":
        check_keys(mapping, path, ("dimensions", "histogram_buckets", "metrics_flush_interval"))
        connector.histogram_buckets = [read_duration(item, f"{path}.histogram_buckets[{index}]")
                                       for index, item in enumerate(mapping.get("histogram_buckets") or [])]
        if "metrics_flush_interval" in mapping:
            connector.metrics_flush_interval = read_duration(mapping["metrics_flush_interval"],
                                                             f"{path}.metrics_flush_interval")
    elif connector_type == "servicegraph":
        check_keys(mapping, path, ("dimensions", "store_ttl", "store_max_items"))
        if "store_ttl" in mapping:
            connector.store_ttl = read_duration(mapping["store_ttl"], f"{path}.store_ttl")
        if "store_max_items" in mapping:
            connector.store_max_items = read_int(mapping["store_max_items"], f"{path}.store_max_items", minimum=1)
    elif connector_type == "forward":
        check_keys(mapping, path, ())
    else:
        removed = REMOVED_COMPONENTS.get(("connectors", connector_type))
        raise SpecError(f"{path}: unknown connector type {connector_type!r}; accepted: "
                        f"{', '.join(sorted(LAB_BUILD_TYPES['connectors']))}" + (f" ({removed[1]})" if removed else ""))
    if "dimensions" in mapping:
        connector.dimensions = read_str_list(mapping["dimensions"], f"{path}.dimensions")
    return connector


def read_sampling(value: Any, path: str) -> SamplingSpec:
    mapping = read_mapping(value, path)
    check_keys(mapping, path, ("probabilistic", "tail"))
    if len(mapping) != 1:
        raise SpecError(f"{path}: give exactly one of 'probabilistic' or 'tail'")
    if "probabilistic" in mapping:
        options = read_mapping(mapping["probabilistic"], f"{path}.probabilistic")
        check_keys(options, f"{path}.probabilistic", ("percentage",))
        return SamplingSpec(kind="probabilistic", percentage=read_number(
            options.get("percentage"), f"{path}.probabilistic.percentage", 0.0, 100.0))
    options = read_mapping(mapping["tail"], f"{path}.tail")
    check_keys(options, f"{path}.tail", ("decision_wait", "num_traces", "policies"))
    policies = options.get("policies")
    if not isinstance(policies, list) or not policies:
        raise SpecError(f"{path}.tail.policies: expected a non-empty list of tail_sampling policies, e.g. "
                        f"[{{name: errors, type: status_code, status_code: {{status_codes: [ERROR]}}}}]")
    checked: List[Config] = []
    for index, policy in enumerate(policies):
        policy_path = f"{path}.tail.policies[{index}]"
        policy_map = read_mapping(policy, policy_path)
        read_name(policy_map.get("name"), f"{policy_path}.name")
        policy_type = read_str(policy_map.get("type"), f"{policy_path}.type")
        if policy_type not in policy_map and policy_type not in ("always_sample",):
            raise SpecError(f"{policy_path}: a policy of type {policy_type!r} needs its settings under "
                            f"the key {policy_type!r}")
        checked.append(copy.deepcopy(dict(policy_map)))
    return SamplingSpec(
        kind="tail",
        decision_wait=read_duration(options.get("decision_wait", "10s"), f"{path}.tail.decision_wait"),
        num_traces=read_int(options.get("num_traces", 50000), f"{path}.tail.num_traces", minimum=1),
        policies=checked,
    )


def read_pipeline(pipeline_id: str, value: Any, path: str) -> PipelineSpec:
    mapping = read_mapping(value, path)
    check_keys(mapping, path, ("receivers", "extra_processors", "exporters", "sampling"))
    signal = pipeline_id.split("/", 1)[0]
    receivers = read_str_list(mapping.get("receivers", ["otlp"]), f"{path}.receivers")
    exporters = read_str_list(mapping.get("exporters"), f"{path}.exporters") if "exporters" in mapping else []
    if not receivers:
        raise SpecError(f"{path}.receivers: a pipeline needs at least one receiver")
    if not exporters:
        raise SpecError(f"{path}.exporters: a pipeline needs at least one exporter (a backend name or a connector id)")
    pipeline = PipelineSpec(
        pipeline_id=pipeline_id, signal=signal, path=path, receivers=receivers,
        extra_processors=read_str_list(mapping.get("extra_processors", []), f"{path}.extra_processors"),
        exporters=exporters,
    )
    for field_name in ("receivers", "extra_processors", "exporters"):
        items = getattr(pipeline, field_name)
        for index, item in enumerate(items):
            if item in items[:index]:
                raise SpecError(f"{path}.{field_name}[{index}]: {item!r} is listed twice")
    if "sampling" in mapping:
        pipeline.sampling = read_sampling(mapping["sampling"], f"{path}.sampling")
    return pipeline


def read_section(spec: Mapping, key: str) -> Mapping:
    return read_mapping(spec.get(key) or {}, f"spec.{key}")


def read_spec(raw: Any, version_argument: Optional[str]) -> Spec:
    spec = read_mapping(raw, "spec")
    check_keys(spec, "spec", TOP_LEVEL_KEYS)
    if version_argument is not None:
        version = parse_version(version_argument, "version (filter argument)")
    else:
        version = parse_version(spec.get("collector_version", DEFAULT_COLLECTOR_VERSION), "spec.collector_version")
    if "memory" not in spec:
        raise SpecError("spec.memory: missing; give host_mib (the host's memory in MiB) or limit_mib so that "
                        "memory_limiter gets a limit that fits the host")
    memory = read_memory(spec["memory"], "spec.memory")

    raw_receivers = read_section(spec, "receivers") if "receivers" in spec else {"otlp": {}}
    receivers = {}
    for component_id, value in raw_receivers.items():
        path = f"spec.receivers.{component_id}"
        receivers[read_component_id(component_id, path)] = read_receiver(component_id, value, path)

    backends = {read_name(name, f"spec.backends.{name}"): read_backend(name, value, f"spec.backends.{name}")
                for name, value in read_section(spec, "backends").items()}
    connectors = {}
    for component_id, value in read_section(spec, "connectors").items():
        path = f"spec.connectors.{component_id}"
        connectors[read_component_id(component_id, path)] = read_connector(component_id, value, path)
    rendered_connectors: Dict[str, str] = {}
    for connector in connectors.values():
        rendered = connector_rendered_id(connector, version)
        if rendered in rendered_connectors:
            raise SpecError(f"{connector.path}: {connector.component_id!r} and {rendered_connectors[rendered]!r} are "
                            f"the same connector ({rendered!r} for collector {format_version(version)}); keep one")
        rendered_connectors[rendered] = connector.component_id
    processors = {}
    for component_id, value in read_section(spec, "processors").items():
        path = f"spec.processors.{component_id}"
        processors[read_component_id(component_id, path)] = dict(read_mapping({} if value is None else value, path))

    pipelines = {}
    raw_pipelines = read_section(spec, "pipelines")
    if not raw_pipelines:
        raise SpecError("spec.pipelines: missing or empty; define at least one pipeline, e.g. "
                        "{traces: {receivers: [otlp], exporters: [tempo]}}")
    for pipeline_id, value in raw_pipelines.items():
        path = f"spec.pipelines.{pipeline_id}"
        signal = pipeline_id.split("/", 1)[0]
        if signal not in SIGNALS:
            raise SpecError(f"{path}: unknown signal {signal!r}; accepted pipeline names: traces, metrics, logs, "
                            f"optionally followed by '/name' (e.g. 'traces/sampled')")
        if "/" in pipeline_id and not NAME_PATTERN.match(pipeline_id.split("/", 1)[1]):
            raise SpecError(f"{path}: the part after '/' must be a name (letters, digits, '_', '.', '-')")
        pipelines[pipeline_id] = read_pipeline(pipeline_id, value, path)

    resource_attributes = read_str_map(spec.get("resource_attributes") or {}, "spec.resource_attributes")

    persistent_directory = None
    if spec.get("persistent_queue") is not None:
        queue = read_mapping(spec["persistent_queue"], "spec.persistent_queue")
        check_keys(queue, "spec.persistent_queue", ("enabled", "directory"))
        if read_bool(queue.get("enabled", True), "spec.persistent_queue.enabled"):
            persistent_directory = read_str(queue.get("directory"), "spec.persistent_queue.directory")
            if not persistent_directory.startswith("/"):
                raise SpecError(f"spec.persistent_queue.directory: expected an absolute path, got {persistent_directory!r}")

    extensions = read_section(spec, "extensions")
    check_keys(extensions, "spec.extensions", ("health_check", "pprof", "zpages"))
    if "health_check" in extensions and extensions["health_check"] is None:
        raise SpecError("spec.extensions.health_check: the health_check extension is always on; give a "
                        "\"host:port\" to move it, not null")
    health_check = parse_host_port(extensions.get("health_check", HEALTH_CHECK_DEFAULT), "spec.extensions.health_check")
    pprof = parse_host_port(extensions["pprof"], "spec.extensions.pprof") if extensions.get("pprof") else None
    zpages = parse_host_port(extensions["zpages"], "spec.extensions.zpages") if extensions.get("zpages") else None

    telemetry = read_section(spec, "telemetry")
    check_keys(telemetry, "spec.telemetry", ("metrics_address", "metrics_level", "log_level"))

    batch_map = read_section(spec, "batch")
    check_keys(batch_map, "spec.batch", ("flush_timeout", "min_size", "max_size"))
    batch = BatchSpec()
    if "flush_timeout" in batch_map:
        batch.flush_timeout = read_duration(batch_map["flush_timeout"], "spec.batch.flush_timeout")
    if "min_size" in batch_map:
        batch.min_size = read_int(batch_map["min_size"], "spec.batch.min_size", minimum=1)
    if "max_size" in batch_map:
        batch.max_size = read_int(batch_map["max_size"], "spec.batch.max_size", minimum=0)
    if batch.max_size and batch.max_size < batch.min_size:
        raise SpecError(f"spec.batch.max_size: {batch.max_size} is smaller than min_size {batch.min_size}; "
                        f"accepted: 0 (no limit) or >= min_size")

    overrides = read_section(spec, "overrides")
    check_keys(overrides, "spec.overrides", COMPONENT_KINDS + ("service",))
    for kind, section in overrides.items():
        read_mapping(section, f"spec.overrides.{kind}")

    return Spec(
        version=version, memory=memory, receivers=receivers, backends=backends, connectors=connectors,
        processors=processors, pipelines=pipelines, resource_attributes=resource_attributes,
        persistent_queue_directory=persistent_directory, health_check=health_check, pprof=pprof, zpages=zpages,
        telemetry_metrics=parse_host_port(telemetry.get("metrics_address", TELEMETRY_METRICS_DEFAULT),
                                          "spec.telemetry.metrics_address"),
        telemetry_metrics_level=read_str(telemetry.get("metrics_level", "normal"), "spec.telemetry.metrics_level",
                                         ("none", "basic", "normal", "detailed")),
        log_level=read_str(telemetry.get("log_level", "info"), "spec.telemetry.log_level",
                           ("debug", "info", "warn", "error")),
        batch=batch,
        overrides={kind: copy.deepcopy(dict(section)) for kind, section in overrides.items()},
    )


# --------------------------------------------------------------------------
# Spec-level lint (all problems are collected, then reported together)
# --------------------------------------------------------------------------

def is_high_cardinality(key: str) -> bool:
    lowered = key.strip().lower()
    return lowered in HIGH_CARDINALITY_KEYS or bool(HIGH_CARDINALITY_PATTERN.search(lowered))


def removed_component_problem(kind: str, type_name: str, version: Version) -> Optional[str]:
    removed = REMOVED_COMPONENTS.get((kind, type_name))
    if removed and version >= removed[0]:
        return (f"the '{type_name}' {kind[:-1]} was removed in collector {format_version(removed[0])} "
                f"(target is {format_version(version)}); {removed[1]}")
    return None


def component_type_problem(kind: str, type_name: str, version: Version) -> Optional[str]:
    removed = removed_component_problem(kind, type_name, version)
    if removed:
        return removed
    if type_name not in LAB_BUILD_TYPES[kind]:
        return (f"{kind[:-1]} type '{type_name}' is not in the lab collector build (lab/otelcol-builder.yaml); "
                f"accepted: {', '.join(sorted(LAB_BUILD_TYPES[kind]))}")
    return None


def lint_pipeline_references(spec: Spec, problems: List[str]) -> Dict[str, set]:
    """Check every reference in spec.pipelines; return what each component is used as."""
    usage: Dict[str, set] = {}
    override_exporters = spec.overrides.get("exporters", {})
    override_receivers = spec.overrides.get("receivers", {})
    for pipeline in spec.pipelines.values():
        for index, name in enumerate(pipeline.receivers):
            path = f"{pipeline.path}.receivers[{index}]"
            if name in spec.receivers:
                receiver = spec.receivers[name]
                if pipeline.signal not in RECEIVER_SIGNALS[receiver.type]:
                    problems.append(f"{path}: receiver {name!r} ({receiver.type}) cannot produce {pipeline.signal}; "
                                    f"it produces: {', '.join(RECEIVER_SIGNALS[receiver.type])}")
            elif name in spec.connectors:
                connector = spec.connectors[name]
                signals = CONNECTOR_SIGNALS[connector.type]
                if signals is not None and pipeline.signal not in signals[1]:
                    problems.append(f"{path}: connector {name!r} produces {', '.join(signals[1])}, so it can only be "
                                    f"a receiver of a {' or '.join(signals[1])} pipeline, not {pipeline.signal}")
            elif name not in override_receivers:
                problems.append(f"{path}: {name!r} is not defined; accepted: a receiver from spec.receivers "
                                f"({', '.join(sorted(spec.receivers)) or 'none'}) or a connector from spec.connectors "
                                f"({', '.join(sorted(spec.connectors)) or 'none'})")
            usage.setdefault(name, set()).add(("receiver", pipeline.signal))
        for index, name in enumerate(pipeline.extra_processors):
            path = f"{pipeline.path}.extra_processors[{index}]"
            if name not in spec.processors:
                problems.append(f"{path}: processor {name!r} is not defined; accepted: an id from spec.processors "
                                f"({', '.join(sorted(spec.processors)) or 'none'})")
            usage.setdefault(name, set()).add(("processor", pipeline.signal))
        for index, name in enumerate(pipeline.exporters):
            path = f"{pipeline.path}.exporters[{index}]"
            if name in spec.backends:
                backend = spec.backends[name]
                accepted = BACKEND_TYPES[backend.type].signals
                if pipeline.signal not in accepted:
                    problems.append(f"{path}: backend {name!r} is of type {backend.type}, which accepts only "
                                    f"{', '.join(accepted)}, not {pipeline.signal}")
            elif name in spec.connectors:
                connector = spec.connectors[name]
                signals = CONNECTOR_SIGNALS[connector.type]
                if signals is not None and pipeline.signal not in signals[0]:
                    problems.append(f"{path}: connector {name!r} consumes {', '.join(signals[0])}, so it can only be "
                                    f"an exporter of a {' or '.join(signals[0])} pipeline, not {pipeline.signal}")
            elif name not in override_exporters:
                problems.append(f"{path}: {name!r} is not defined; accepted: a backend from spec.backends "
                                f"({', '.join(sorted(spec.backends)) or 'none'}), a connector from spec.connectors "
                                f"({', '.join(sorted(spec.connectors)) or 'none'}) or an exporter id from "
                                f"spec.overrides.exporters")
            usage.setdefault(name, set()).add(("exporter", pipeline.signal))
        if pipeline.sampling is not None and pipeline.signal != "traces":
            problems.append(f"{pipeline.path}.sampling: sampling applies to traces pipelines only, "
                            f"not {pipeline.signal}")
    return usage


def lint_unused_and_connectors(spec: Spec, usage: Dict[str, set], problems: List[str]) -> None:
    def roles(name: str) -> set:
        return {role for role, _signal in usage.get(name, set())}

    for name, receiver in spec.receivers.items():
        if "receiver" not in roles(name):
            problems.append(f"{receiver.path}: receiver {name!r} is defined but no pipeline uses it; "
                            f"add it to a pipeline's receivers or remove it")
    for name, backend in spec.backends.items():
        if "exporter" not in roles(name):
            problems.append(f"{backend.path}: backend {name!r} is defined but no pipeline exports to it; "
                            f"add it to a pipeline's exporters or remove it")
    for name in spec.processors:
        if "processor" not in roles(name):
            problems.append(f"spec.processors.{name}: processor {name!r} is defined but no pipeline lists it in "
                            f"extra_processors; use it or remove it")
    for name, connector in spec.connectors.items():
        used_as = roles(name)
        if used_as != {"exporter", "receiver"}:
            missing = "receiver" if "receiver" not in used_as else "exporter"
            problems.append(f"{connector.path}: connector {name!r} must be used both as an exporter (of the "
                            f"pipeline feeding it) and as a receiver (of the pipeline it feeds); it is not used as "
                            f"{'a' if missing == 'receiver' else 'an'} {missing} in any pipeline")
        if CONNECTOR_SIGNALS[connector.type] is None:
            # forward: data must go out on the same signal it came in on.
            signals_in = {signal for role, signal in usage.get(name, set()) if role == "exporter"}
            signals_out = {signal for role, signal in usage.get(name, set()) if role == "receiver"}
            if signals_in and signals_out and signals_in != signals_out:
                problems.append(f"{connector.path}: a forward connector keeps the signal; it is fed "
                                f"{', '.join(sorted(signals_in))} but read as {', '.join(sorted(signals_out))}")


def lint_component_types(spec: Spec, problems: List[str]) -> None:
    for name, config in spec.processors.items():
        type_name = component_type(name)
        problem = component_type_problem("processors", type_name, spec.version)
        if problem:
            problems.append(f"spec.processors.{name}: {problem}")
        elif type_name in ("memory_limiter", "batch"):
            problems.append(f"spec.processors.{name}: {type_name} is managed by this filter (memory_limiter is "
                            f"always first, batching happens once at the end); tune it with spec.memory / spec.batch "
                            f"or spec.overrides.processors")
    for kind, section in spec.overrides.items():
        if kind == "service":
            continue
        for component_id in section:
            path = f"spec.overrides.{kind}.{component_id}"
            if not isinstance(component_id, str) or not COMPONENT_ID_PATTERN.match(component_id):
                problems.append(f"{path}: not a component id; accepted: 'type' or 'type/name'")
                continue
            problem = component_type_problem(kind, component_type(component_id), spec.version)
            if problem:
                problems.append(f"{path}: {problem}")


def lint_high_cardinality(spec: Spec, problems: List[str]) -> None:
    for connector in spec.connectors.values():
        for index, dimension in enumerate(connector.dimensions):
            if is_high_cardinality(dimension):
                problems.append(f"{connector.path}.dimensions[{index}]: {dimension!r} {HIGH_CARDINALITY_ADVICE}")
    metrics_pipelines = [pipeline for pipeline in spec.pipelines.values() if pipeline.signal == "metrics"]
    if metrics_pipelines:
        for key in spec.resource_attributes:
            if is_high_cardinality(key):
                problems.append(f"spec.resource_attributes.{key}: set on every pipeline including metrics pipeline "
                                f"{metrics_pipelines[0].pipeline_id!r}; {key!r} {HIGH_CARDINALITY_ADVICE}")
    for pipeline in metrics_pipelines:
        for name in pipeline.extra_processors:
            config = spec.processors.get(name)
            if config is not None:
                for path, key in promoted_keys(name, config):
                    if is_high_cardinality(key):
                        problems.append(f"{path}: processor {name!r} is in metrics pipeline "
                                        f"{pipeline.pipeline_id!r} and sets {key!r}, which {HIGH_CARDINALITY_ADVICE}")


def promoted_keys(name: str, config: Config) -> List[Tuple[str, str]]:
    """Attribute keys an attributes/resource/transform processor writes onto data."""
    found: List[Tuple[str, str]] = []
    base = f"spec.processors.{name}"
    type_name = component_type(name)
    if type_name in ("attributes", "resource"):
        actions = config.get("actions")
        if isinstance(actions, list):
            for index, action in enumerate(actions):
                if (isinstance(action, Mapping) and action.get("action") in PROMOTING_ACTIONS
                        and isinstance(action.get("key"), str)):
                    found.append((f"{base}.actions[{index}].key", action["key"]))
    elif type_name == "transform":
        for section_name in ("metric_statements", "statements"):
            section = config.get(section_name)
            for statement_path, statement in iter_statements(section, f"{base}.{section_name}"):
                for key in TRANSFORM_SET_PATTERN.findall(statement):
                    found.append((statement_path, key))
    return found


def iter_statements(value: Any, path: str) -> List[Tuple[str, str]]:
    """Flatten the string statements of a transform processor section."""
    if isinstance(value, str):
        return [(path, value)]
    if isinstance(value, list):
        result: List[Tuple[str, str]] = []
        for index, item in enumerate(value):
            result.extend(iter_statements(item, f"{path}[{index}]"))
        return result
    if isinstance(value, Mapping):
        result = []
        for key, item in value.items():
            if key in ("statements", "metric_statements", "metric", "datapoint") or isinstance(item, (list, str)):
                result.extend(iter_statements(item, f"{path}.{key}"))
        return result
    return []


def spec_listen_addresses(spec: Spec) -> List[ListenAddress]:
    addresses: List[ListenAddress] = []
    for receiver in spec.receivers.values():
        addresses.extend(address for address in (receiver.grpc, receiver.http) if address is not None)
    addresses.append(spec.health_check)
    addresses.extend(address for address in (spec.pprof, spec.zpages) if address is not None)
    addresses.append(spec.telemetry_metrics)
    return addresses


def addresses_clash(first: ListenAddress, second: ListenAddress) -> bool:
    if first.port != second.port:
        return False
    return first.host == second.host or first.host in WILDCARD_HOSTS or second.host in WILDCARD_HOSTS


def lint_port_clashes(addresses: List[ListenAddress], problems: List[str]) -> None:
    for index, address in enumerate(addresses):
        for earlier in addresses[:index]:
            if addresses_clash(earlier, address):
                problems.append(f"{address.path}: {address.text} clashes with {earlier.text} set at {earlier.path}; "
                                f"two listeners cannot share a port (the collector would fail to start with "
                                f"'address already in use'); pick another port")
                break


def lint_spec(spec: Spec) -> List[str]:
    problems: List[str] = []
    usage = lint_pipeline_references(spec, problems)
    lint_unused_and_connectors(spec, usage, problems)
    lint_component_types(spec, problems)
    lint_high_cardinality(spec, problems)
    lint_port_clashes(spec_listen_addresses(spec), problems)
    return problems


# --------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------

def id_suffix(text: str) -> str:
    """Turn a pipeline id like 'traces/sampled' into a component name 'traces_sampled'."""
    return text.replace("/", "_")


def render_tls_client(tls: TlsSpec) -> Config:
    rendered: Config = {}
    for key in ("ca_file", "cert_file", "key_file", "server_name"):
        value = getattr(tls, key)
        if value is not None:
            rendered[key if key != "server_name" else "server_name_override"] = value
    if tls.insecure_skip_verify:
        rendered["insecure_skip_verify"] = True
    return rendered


def backend_protocol(backend: BackendSpec) -> Optional[BackendProtocol]:
    """The BACKEND_TYPES row for the backend's protocol; None for debug (no network)."""
    return BACKEND_TYPES[backend.type].protocols.get(backend.protocol)


def backend_exporter_id(backend: BackendSpec, version: Version) -> str:
    protocol = backend_protocol(backend)
    old_type = protocol.exporter if protocol is not None else "debug"
    return f"{versioned_type('exporters', old_type, version)}/{backend.name}"


def connector_rendered_id(connector: ConnectorSpec, version: Version) -> str:
    """The connector id in the rendered config: the spec's name, the version's type name."""
    name = connector.component_id.split("/", 1)[1] if "/" in connector.component_id else None
    rendered_type = versioned_type("connectors", connector.type, version)
    return f"{rendered_type}/{name}" if name else rendered_type


def backend_endpoint(backend: BackendSpec) -> str:
    if backend.endpoint is not None:
        return backend.endpoint
    protocol = BACKEND_TYPES[backend.type].protocols[backend.protocol]
    port = backend.port or protocol.port
    if protocol.is_grpc:
        return f"{backend.host}:{port}"
    scheme = "https" if backend.tls.enabled else "http"
    return f"{scheme}://{backend.host}:{port}{protocol.path}"


def has_remote_write_queue(backend: BackendSpec) -> bool:
    """prometheusremotewrite has its own queue (remote_write_queue) instead of exporterhelper's sending_queue."""
    protocol = backend_protocol(backend)
    return protocol is not None and protocol.exporter == "prometheusremotewrite"


def render_sending_queue(spec: Spec, backend: BackendSpec) -> Config:
    queue: Config = {"enabled": True, "num_consumers": 10, "queue_size": backend.queue_size}
    if persistent_queue_applies(spec, backend):
        queue["storage"] = PERSISTENT_QUEUE_STORAGE_ID
    if exporters_batch_themselves(spec.version):
        # The queue counts requests; the batch counts items, so min_size is not
        # bounded by queue_size (the collector checks that only for equal sizers).
        queue["batch"] = {
            "flush_timeout": spec.batch.flush_timeout,
            "sizer": "items",
            "min_size": spec.batch.min_size,
            "max_size": spec.batch.max_size,
        }
    return queue


def persistent_queue_applies(spec: Spec, backend: BackendSpec) -> bool:
    if spec.persistent_queue_directory is None or backend.persistent is False:
        return False
    # remote_write_queue has no storage support.
    return not has_remote_write_queue(backend)


RETRY_ON_FAILURE: Config = {
    "enabled": True,
    "initial_interval": "5s",
    "max_interval": "30s",
    "max_elapsed_time": "300s",
}


def render_exporter(spec: Spec, backend: BackendSpec) -> Config:
    protocol = backend_protocol(backend)
    if protocol is None:
        return {"verbosity": backend.verbosity}
    exporter: Config = {"endpoint": backend_endpoint(backend), "timeout": backend.timeout}
    is_grpc = protocol.is_grpc
    tls_settings = render_tls_client(backend.tls)
    if is_grpc and not backend.tls.enabled:
        exporter["tls"] = {"insecure": True}
    elif backend.tls.enabled and tls_settings:
        exporter["tls"] = tls_settings
    headers = dict(backend.headers)
    if backend.auth is not None:
        # The lab build has no basicauth extension; the header is what it would send.
        credentials = base64.b64encode(f"{backend.auth[0]}:{backend.auth[1]}".encode("utf-8")).decode("ascii")
        headers["Authorization"] = f"Basic {credentials}"
    if headers:
        exporter["headers"] = headers
    exporter["retry_on_failure"] = dict(RETRY_ON_FAILURE)
    if has_remote_write_queue(backend):
        # prometheusremotewrite has no exporterhelper sending_queue; its
        # remote_write_queue plays the same role.
        exporter["remote_write_queue"] = {"enabled": True, "queue_size": backend.queue_size, "num_consumers": 5}
    else:
        exporter["sending_queue"] = render_sending_queue(spec, backend)
    return exporter


def render_receiver(receiver: ReceiverSpec) -> Config:
    if receiver.type == "prometheus":
        return {"config": {"scrape_configs": copy.deepcopy(receiver.scrape_configs)}}
    protocols: Config = {}
    for protocol_name in ("grpc", "http"):
        address = getattr(receiver, protocol_name)
        if address is None:
            continue
        protocol: Config = {"endpoint": address.text}
        if receiver.tls is not None and receiver.tls.enabled:
            protocol["tls"] = {key: value for key, value in (
                ("cert_file", receiver.tls.cert_file), ("key_file", receiver.tls.key_file),
                ("client_ca_file", receiver.tls.ca_file)) if value is not None}
        protocols[protocol_name] = protocol
    return {"protocols": protocols}


def render_connector(connector: ConnectorSpec) -> Config:
    if connector.type == "spanmetrics":
        rendered: Config = {"dimensions": [{"name": name} for name in connector.dimensions]}
        if connector.histogram_buckets:
            rendered["histogram"] = {"explicit": {"buckets": list(connector.histogram_buckets)}}
        if connector.metrics_flush_interval:
            rendered["metrics_flush_interval"] = connector.metrics_flush_interval
        return rendered
    if connector.type == "servicegraph":
        rendered = {"dimensions": list(connector.dimensions)}
        store: Config = {}
        if connector.store_ttl:
            store["ttl"] = connector.store_ttl
        if connector.store_max_items:
            store["max_items"] = connector.store_max_items
        if store:
            rendered["store"] = store
        return rendered
    return {}


def render_sampler(pipeline: PipelineSpec) -> Tuple[str, Config]:
    sampling = pipeline.sampling or SamplingSpec(kind="probabilistic")
    if sampling.kind == "probabilistic":
        return (f"probabilistic_sampler/{id_suffix(pipeline.pipeline_id)}",
                {"sampling_percentage": sampling.percentage})
    return (f"tail_sampling/{id_suffix(pipeline.pipeline_id)}", {
        "decision_wait": sampling.decision_wait,
        "num_traces": sampling.num_traces,
        "policies": copy.deepcopy(sampling.policies),
    })


def rendered_id_for(spec: Spec, name: str) -> str:
    """Map a name used in spec.pipelines to the component id in the rendered config."""
    if name in spec.backends:
        return backend_exporter_id(spec.backends[name], spec.version)
    if name in spec.connectors:
        return connector_rendered_id(spec.connectors[name], spec.version)
    return name  # a receiver or an exporter defined in spec.overrides.exporters


def render_pipeline(spec: Spec, pipeline: PipelineSpec, processors: Config) -> Config:
    """Processor order: memory_limiter, resource, extra processors, sampler, batch.

    memory_limiter must see data first so it can refuse it under pressure; the
    extra processors (filters, attribute edits) run before sampling so dropped
    data is never sampled; batching comes last, after sampling and filtering,
    so batches hold only data that will be sent.
    """
    order = ["memory_limiter"]
    if spec.resource_attributes:
        order.append("resource")
    order.extend(pipeline.extra_processors)
    if pipeline.sampling is not None:
        sampler_id, sampler_config = render_sampler(pipeline)
        processors[sampler_id] = sampler_config
        order.append(sampler_id)
    if not exporters_batch_themselves(spec.version):
        order.append("batch")
    return {
        "receivers": [rendered_id_for(spec, name) if name in spec.connectors else name
                      for name in pipeline.receivers],
        "processors": order,
        "exporters": [rendered_id_for(spec, name) for name in pipeline.exporters],
    }


def render(spec: Spec) -> Config:
    processors: Config = {
        "memory_limiter": {
            "check_interval": spec.memory.check_interval,
            "limit_mib": spec.memory.limit_mib,
            "spike_limit_mib": spec.memory.spike_limit_mib,
        },
    }
    if spec.resource_attributes:
        processors["resource"] = {"attributes": [
            {"key": key, "value": value, "action": "upsert"} for key, value in spec.resource_attributes.items()]}
    for name, config in spec.processors.items():
        processors[name] = copy.deepcopy(config)
    if not exporters_batch_themselves(spec.version):
        processors["batch"] = {"timeout": spec.batch.flush_timeout, "send_batch_size": spec.batch.min_size,
                               "send_batch_max_size": spec.batch.max_size}

    pipelines = {pipeline_id: render_pipeline(spec, pipeline, processors)
                 for pipeline_id, pipeline in spec.pipelines.items()}

    extensions: Config = {"health_check": {"endpoint": spec.health_check.text}}
    if spec.persistent_queue_directory is not None and any(
            persistent_queue_applies(spec, backend) for backend in spec.backends.values()):
        extensions[PERSISTENT_QUEUE_STORAGE_ID] = {
            "directory": spec.persistent_queue_directory,
            "create_directory": True,
            "timeout": "1s",
        }
    if spec.pprof is not None:
        extensions["pprof"] = {"endpoint": spec.pprof.text}
    if spec.zpages is not None:
        extensions["zpages"] = {"endpoint": spec.zpages.text}

    return {
        "receivers": {name: render_receiver(receiver) for name, receiver in spec.receivers.items()},
        "processors": processors,
        "exporters": {backend_exporter_id(backend, spec.version): render_exporter(spec, backend)
                      for backend in spec.backends.values()},
        "connectors": {connector_rendered_id(connector, spec.version): render_connector(connector)
                       for connector in spec.connectors.values()},
        "extensions": extensions,
        "service": {
            "extensions": list(extensions),
            "pipelines": pipelines,
            "telemetry": {
                "logs": {"level": spec.log_level},
                "metrics": {
                    "level": spec.telemetry_metrics_level,
                    "readers": [{"pull": {"exporter": {"prometheus": {
                        "host": spec.telemetry_metrics.host,
                        "port": spec.telemetry_metrics.port,
                    }}}}],
                },
            },
        },
    }


# --------------------------------------------------------------------------
# Overrides (raw escape hatch)
# --------------------------------------------------------------------------

def deep_merge(base: Any, override: Any) -> Any:
    """Merge override into base: mappings merge key by key, anything else replaces.

    A null in the override removes the key, so a default can be dropped.
    """
    if not isinstance(base, Mapping) or not isinstance(override, Mapping):
        return copy.deepcopy(override)
    merged = {key: copy.deepcopy(value) for key, value in base.items()}
    for key, value in override.items():
        if value is None:
            merged.pop(key, None)
        elif key in merged:
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def apply_overrides(config: Config, overrides: Dict[str, Config]) -> Config:
    merged = dict(config)
    for kind, section in overrides.items():
        merged[kind] = deep_merge(config.get(kind, {}), section)
    return merged


# --------------------------------------------------------------------------
# Final check of the rendered configuration (catches override mistakes)
# --------------------------------------------------------------------------

def check_rendered(config: Config, spec: Spec) -> List[str]:
    problems: List[str] = []
    hint = " (set through spec.overrides)"
    defined = {kind: config.get(kind) or {} for kind in COMPONENT_KINDS}
    for kind in COMPONENT_KINDS:
        if not isinstance(defined[kind], Mapping):
            problems.append(f"config.{kind}: must be a mapping{hint}")
            return problems
    service = config.get("service")
    if not isinstance(service, Mapping) or not isinstance(service.get("pipelines"), Mapping):
        return [f"config.service.pipelines: must be a mapping{hint}"]

    used: Dict[Tuple[str, str], set] = {}
    for pipeline_id, pipeline in service["pipelines"].items():
        path = f"config.service.pipelines.{pipeline_id}"
        if not isinstance(pipeline_id, str) or pipeline_id.split("/", 1)[0] not in SIGNALS:
            problems.append(f"{path}: unknown signal; accepted: traces, metrics, logs{hint}")
            continue
        if not isinstance(pipeline, Mapping):
            problems.append(f"{path}: must be a mapping{hint}")
            continue
        signal = pipeline_id.split("/", 1)[0]
        for role, kinds in (("receivers", ("receivers", "connectors")), ("processors", ("processors",)),
                            ("exporters", ("exporters", "connectors"))):
            items = pipeline.get(role) or []
            if not isinstance(items, list):
                problems.append(f"{path}.{role}: must be a list{hint}")
                continue
            for index, item in enumerate(items):
                if not isinstance(item, str):
                    problems.append(f"{path}.{role}[{index}]: expected a component id string, got {item!r}{hint}")
                    continue
                owner = next((kind for kind in kinds if item in defined[kind]), None)
                if owner is None:
                    problems.append(f"{path}.{role}[{index}]: {item!r} is not defined under "
                                    f"{' or '.join('config.' + kind for kind in kinds)}{hint}")
                    continue
                used.setdefault((owner, item), set()).add((role, signal))
        processor_list = pipeline.get("processors") or []
        if not processor_list or processor_list[0] != "memory_limiter":
            problems.append(f"{path}.processors: memory_limiter must be the first processor{hint}")
        problems.extend(batching_problems(path, pipeline, defined))

    for kind in COMPONENT_KINDS:
        if kind == "extensions":
            continue
        for component_id in defined[kind]:
            if (kind, component_id) not in used:
                problems.append(f"config.{kind}.{component_id}: defined but not used by any pipeline{hint}")
    for component_id in defined["connectors"]:
        roles = {role for role, _signal in used.get(("connectors", component_id), set())}
        if roles and roles != {"receivers", "exporters"}:
            problems.append(f"config.connectors.{component_id}: a connector must be used both as an exporter and "
                            f"as a receiver{hint}")
    listed_extensions = service.get("extensions") or []
    if not isinstance(listed_extensions, list):
        problems.append(f"config.service.extensions: must be a list of extension ids{hint}")
        listed_extensions = []
    for index, extension_id in enumerate(listed_extensions):
        if extension_id not in defined["extensions"]:
            problems.append(f"config.service.extensions[{index}]: {extension_id!r} is not defined under "
                            f"config.extensions{hint}")
    for extension_id in defined["extensions"]:
        if extension_id not in listed_extensions:
            problems.append(f"config.extensions.{extension_id}: defined but not listed in service.extensions{hint}")
    for exporter_id, exporter in defined["exporters"].items():
        problems.extend(exporter_problems(exporter_id, exporter, defined["extensions"], hint))
    problems.extend(rendered_port_clashes(config, hint))
    return problems


NETWORK_EXPORTER_TYPES = frozenset({"otlp", "otlphttp", "otlp_grpc", "otlp_http"})


def exporter_problems(exporter_id: str, exporter: Any, extensions: Mapping, hint: str) -> List[str]:
    path = f"config.exporters.{exporter_id}"
    if not isinstance(exporter, Mapping):
        return []
    problems = []
    type_name = component_type(exporter_id)
    if type_name in NETWORK_EXPORTER_TYPES:
        for key in ("sending_queue", "retry_on_failure"):
            if not isinstance(exporter.get(key), Mapping):
                problems.append(f"{path}.{key}: every network exporter needs {key}{hint}")
    queue = exporter.get("sending_queue")
    if isinstance(queue, Mapping) and queue.get("storage") is not None and queue["storage"] not in extensions:
        problems.append(f"{path}.sending_queue.storage: {queue['storage']!r} is not defined under "
                        f"config.extensions{hint}")
    return problems


def batching_problems(path: str, pipeline: Mapping, defined: Mapping) -> List[str]:
    processors = pipeline.get("processors") or []
    batch_processors = [name for name in processors if component_type(str(name)) == "batch"]
    problems = []
    if len(batch_processors) > 1:
        problems.append(f"{path}.processors: batching twice ({', '.join(batch_processors)}); keep one batch step")
    if batch_processors:
        if processors[-1] != batch_processors[-1]:
            problems.append(f"{path}.processors: the batch processor must come after sampling and filtering "
                            f"(last in the list)")
        for exporter_id in pipeline.get("exporters") or []:
            exporter = defined["exporters"].get(exporter_id)
            queue = exporter.get("sending_queue") if isinstance(exporter, Mapping) else None
            if isinstance(queue, Mapping) and queue.get("batch") is not None:
                problems.append(f"{path}.processors: batching twice: the batch processor and exporter "
                                f"{exporter_id!r} (sending_queue.batch); keep exporter-side batching")
                break
    return problems


def rendered_port_clashes(config: Config, hint: str) -> List[str]:
    addresses: List[ListenAddress] = []
    problems: List[str] = []
    for kind in ("receivers", "extensions"):
        for component_id, component in (config.get(kind) or {}).items():
            for path, endpoint in find_endpoints(component, f"config.{kind}.{component_id}"):
                if not isinstance(endpoint, str):
                    problems.append(f"{path}: expected a \"host:port\" string, got {endpoint!r}{hint}")
                    continue
                try:
                    addresses.append(parse_host_port(endpoint, path))
                except SpecError:
                    continue  # not a listen address (e.g. an env reference); the collector checks it
    clashes: List[str] = []
    lint_port_clashes(addresses, clashes)
    return problems + [problem + hint for problem in clashes]


def find_endpoints(value: Any, path: str) -> List[Tuple[str, Any]]:
    if not isinstance(value, Mapping):
        return []
    found: List[Tuple[str, Any]] = []
    for key, item in value.items():
        if key == "endpoint":
            found.append((f"{path}.endpoint", item))
        elif key != "config":  # prometheus scrape targets are not listeners
            found.extend(find_endpoints(item, f"{path}.{key}"))
    return found


# --------------------------------------------------------------------------
# Filter entry points
# --------------------------------------------------------------------------

def format_problems(problems: List[str]) -> str:
    lines = "\n".join(f"  - {problem}" for problem in problems)
    return f"otelcol_config: {len(problems)} problem(s) in the spec:\n{lines}"


def otelcol_config(spec: Any, version: Optional[str] = None) -> Config:
    """Return the complete collector configuration for a high-level spec."""
    try:
        parsed = read_spec(spec, version)
        problems = lint_spec(parsed)
        if problems:
            raise AnsibleFilterError(format_problems(problems))
        config = apply_overrides(render(parsed), parsed.overrides)
        problems = check_rendered(config, parsed)
        if problems:
            raise AnsibleFilterError(format_problems(problems))
        return config
    except SpecError as error:
        raise AnsibleFilterError(f"otelcol_config: {error}") from None
    except AnsibleFilterError:
        raise
    except Exception as error:  # a bug here must still not surface as a traceback
        raise AnsibleFilterError(f"otelcol_config: internal error ({type(error).__name__}: {error}); "
                                 f"please report it with the spec that caused it") from None


def otelcol_gomemlimit(spec: Any) -> str:
    """Return the GOMEMLIMIT value (e.g. "1310MiB") matching the spec's memory_limiter."""
    try:
        mapping = read_mapping(spec, "spec")
        if "memory" not in mapping:
            raise SpecError("spec.memory: missing; give host_mib or limit_mib")
        memory = read_memory(mapping["memory"], "spec.memory")
        return f"{memory.gomemlimit_mib}MiB"
    except SpecError as error:
        raise AnsibleFilterError(f"otelcol_gomemlimit: {error}") from None


class FilterModule:
    """OpenTelemetry Collector configuration filters."""

    def filters(self) -> Dict[str, Any]:
        return {
            "otelcol_config": otelcol_config,
            "otelcol_gomemlimit": otelcol_gomemlimit,
        }
