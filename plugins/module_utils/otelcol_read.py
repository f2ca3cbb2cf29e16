# -*- coding: utf-8 -*-
# Copyright: observability.lgtm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Stage 2, read: turn the raw spec into the typed ``Spec``.

Small typed readers turn each spec value into a Python value or raise
``SpecError`` naming the spec path. Reading never calls rendering code and never
changes the input.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any, Dict, List, Optional, Sequence

from ansible_collections.observability.lgtm.plugins.module_utils.otelcol_spec import (
    BackendSpec, BatchSpec, Config, ConnectorSpec, ListenAddress, MemorySpec, PipelineSpec, ReceiverSpec,
    SamplingSpec, Spec, SpecError, TlsSpec, Version,
)
from ansible_collections.observability.lgtm.plugins.module_utils.otelcol_facts import (
    BACKEND_TYPES, COMPONENT_KINDS, DEFAULT_COLLECTOR_VERSION, LAB_BUILD_TYPES, MINIMUM_COLLECTOR_VERSION,
    OTLP_GRPC_PORT, OTLP_HTTP_PORT, RECEIVER_SIGNALS, REMOVED_COMPONENTS, SIGNALS, canonical_type,
    component_type, connector_rendered_id, format_version,
)

COMPONENT_ID_PATTERN = re.compile(r"^[a-z][a-z0-9_]*(/[A-Za-z0-9][A-Za-z0-9_.\-]*)?$")


NAME_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_.\-]*$")


DURATION_PATTERN = re.compile(r"^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$")


HEALTH_CHECK_DEFAULT = "0.0.0.0:13133"


TELEMETRY_METRICS_DEFAULT = "0.0.0.0:8888"


OTLP_GRPC_DEFAULT = f"0.0.0.0:{OTLP_GRPC_PORT}"


OTLP_HTTP_DEFAULT = f"0.0.0.0:{OTLP_HTTP_PORT}"


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
