# -*- coding: utf-8 -*-
# Copyright: observability.lgtm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Stage 2, read (sections): turn the raw spec into the typed ``Spec``.

Small typed readers turn each spec value into a Python value or raise
``SpecError`` naming the spec path. Reading never calls rendering code and never
changes the input.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, Callable, Dict, List, Optional, Set, Tuple, TypeVar

from ansible_collections.observability.lgtm.plugins.module_utils.otelcol_spec import (
    BatchSpec, Problems, Config, ConnectorSpec, ListenAddress, MemorySpec,
    PipelineSpec, ReceiverSpec, SamplingSpec, Spec, SpecError, Version,
)
from ansible_collections.observability.lgtm.plugins.module_utils.otelcol_facts import (
    BATCH_DEFAULT_SIZES, COMPONENT_KINDS, CONNECTOR_SIGNALS, DEFAULT_COLLECTOR_VERSION, EXPORTER_BATCHING_VERSION,
    exporters_batch_themselves, GRPC_MAX_MESSAGE_MIB,
    COLLECTOR_OTLP_GRPC, COLLECTOR_OTLP_HTTP, RECEIVER_SIGNALS, SIGNALS, canonical_type,
    component_type, connector_rendered_id, default_port, format_version, MEMORY_LIMITER_MAX_MIB,
    MIN_SAMPLING_PERCENTAGE,
    removed_component, SPANMETRICS_BUILTIN_DIMENSIONS, TAIL_SAMPLING_POLICIES_WITHOUT_SETTINGS,
    TAIL_SAMPLING_POLICY_TYPES, versioned_type,
)
from ansible_collections.observability.lgtm.plugins.module_utils.otelcol_distribution import (
    UPSTREAM_CONTRIB, read_distribution,
)
from ansible_collections.observability.lgtm.plugins.module_utils.otelcol_read_backend import read_backend, read_tls
from ansible_collections.observability.lgtm.plugins.module_utils.otelcol_read_kubernetes import read_kubernetes
from ansible_collections.observability.lgtm.plugins.module_utils.otelcol_read_queue import (
    read_persistent_queue, read_persistent_queue_intake, read_persistent_queue_max_mib,
)
from ansible_collections.observability.lgtm.plugins.module_utils.otelcol_read_host import (
    read_file_log, read_host_metrics, read_journald, read_resource_detection, settle_offsets_directory,
)
from ansible_collections.observability.lgtm.plugins.module_utils.otelcol_read_access import (
    read_receiver_auth, read_scrape_job,
)
from ansible_collections.observability.lgtm.plugins.module_utils.otelcol_values import (
    NAME_PATTERN, check_keys, check_name_length, parse_host_port, parse_version,
    read_component_id, read_dimensions, read_duration, read_durations, read_int, read_mapping, read_name, read_number,
    read_positive_duration, read_str, read_str_list, read_str_map,
)
from ansible_collections.observability.lgtm.plugins.module_utils.stack_catalogue import component as catalogue_component

# The collector's own listeners, as the stack catalogue writes them.
HEALTH_CHECK_DEFAULT = catalogue_component("otel_collector").ports["health"].endpoint
TELEMETRY_METRICS_DEFAULT = catalogue_component("otel_collector").ports["metrics"].endpoint

T = TypeVar("T")


TOP_LEVEL_KEYS = (
    "collector_version", "memory", "receivers", "backends", "connectors", "processors", "pipelines",
    "resource_attributes", "persistent_queue", "extensions", "telemetry", "batch", "overrides", "distribution",
    "kubernetes", "resource_detection",
)

# The connector types this filter configures, under both spellings.
CONNECTOR_TYPE_NAMES = frozenset(
    name for old in CONNECTOR_SIGNALS for name in (old, versioned_type("connectors", old, (999, 0, 0))))


# The memory_limiter's limit as a share of the collector's memory budget (host_mib);
# the rest is left for the OS and other processes, and for the Go runtime's overhead.
LIMIT_PERCENT_OF_BUDGET = 80
# The largest host_mib whose derived limit still fits memory_limiter's 32-bit limit_mib.
MAX_HOST_MIB = (MEMORY_LIMITER_MAX_MIB * 100 + 99) // LIMIT_PERCENT_OF_BUDGET


def read_memory(value: Any, path: str) -> MemorySpec:
    """spec.memory: the memory_limiter limit (from the host's memory or explicit), spike and check interval."""
    mapping = read_mapping(value, path)
    problems = Problems()
    problems.attempt(check_keys, mapping, path, ("host_mib", "limit_mib", "spike_limit_mib", "check_interval"))
    check_interval = problems.attempt(read_positive_duration, mapping.get("check_interval", "1s"),
                                      f"{path}.check_interval")
    if ("host_mib" in mapping) == ("limit_mib" in mapping):
        problems.add(f"{path}: give exactly one of host_mib (the host's memory in MiB, the limit is derived "
                     f"from it) or limit_mib (an explicit memory_limiter limit in MiB)")
        problems.raise_if_any()
    host_mib = None
    if "host_mib" in mapping:
        host_mib = problems.attempt(read_int, mapping["host_mib"], f"{path}.host_mib", minimum=128,
                                    maximum=MAX_HOST_MIB)
        limit_mib = None if host_mib is None else host_mib * LIMIT_PERCENT_OF_BUDGET // 100
    else:
        limit_mib = problems.attempt(read_int, mapping["limit_mib"], f"{path}.limit_mib", minimum=32,
                                     maximum=MEMORY_LIMITER_MAX_MIB)
    problems.raise_if_any()
    # The default spike allowance (20% of the limit) matches the processor's own default.
    spike_limit_mib = limit_mib * 20 // 100
    if "spike_limit_mib" in mapping:
        spike_limit_mib = read_int(mapping["spike_limit_mib"], f"{path}.spike_limit_mib", minimum=1,
                                   maximum=limit_mib - 1)
    # The budget the limit is a share of: host_mib as given, or worked back from the explicit limit (rounded up).
    budget_mib = host_mib if host_mib is not None else -(-limit_mib * 100 // LIMIT_PERCENT_OF_BUDGET)
    return MemorySpec(limit_mib=limit_mib, spike_limit_mib=spike_limit_mib, check_interval=check_interval,
                      budget_mib=budget_mib)


def read_spec_memory(spec: Any) -> MemorySpec:
    """Only the memory section of a whole spec (for the GOMEMLIMIT and MemoryMax filters)."""
    mapping = read_mapping(spec, "spec")
    if "memory" not in mapping:
        raise SpecError("spec.memory: missing; give host_mib or limit_mib")
    return read_memory(mapping["memory"], "spec.memory")


def read_receiver(component_id: str, value: Any, path: str) -> ReceiverSpec:
    """A receiver of spec.receivers (otlp, prometheus, hostmetrics, filelog or journald)."""
    receiver_type = canonical_type("receivers", component_type(component_id))
    mapping = read_mapping({} if value is None else value, path)
    receiver = ReceiverSpec(component_id=component_id, type=receiver_type, path=path)
    if receiver_type == "otlp":
        check_keys(mapping, path, ("grpc", "http", "tls", "auth"))
        # Explicit addresses are always emitted; null disables a protocol.
        # The collector's own default receivers, as its role writes them.
        grpc = mapping.get("grpc", f"0.0.0.0:{default_port(COLLECTOR_OTLP_GRPC)}")
        http = mapping.get("http", f"0.0.0.0:{default_port(COLLECTOR_OTLP_HTTP)}")
        receiver.grpc = None if grpc is None else parse_host_port(grpc, f"{path}.grpc")
        receiver.http = None if http is None else parse_host_port(http, f"{path}.http")
        if receiver.grpc is None and receiver.http is None:
            raise SpecError(f"{path}: both grpc and http are disabled; enable at least one")
        if "tls" in mapping:
            receiver.tls = read_tls(mapping["tls"], f"{path}.tls")
            if receiver.tls.enabled and receiver.tls.cert_file is None:
                raise SpecError(f"{path}.tls: a receiver serving TLS needs cert_file and key_file")
        if mapping.get("auth") is not None:
            receiver.bearer_tokens = read_receiver_auth(mapping["auth"], f"{path}.auth")
            # A token sent in plain text is as good as published.
            if receiver.tls is None or not receiver.tls.enabled:
                raise SpecError(f"{path}.auth: bearer tokens need TLS on the receiver; give {path}.tls "
                                f"{{cert_file, key_file}} too")
    elif receiver_type == "prometheus":
        check_keys(mapping, path, ("scrape_configs",))
        jobs = mapping.get("scrape_configs")
        if not isinstance(jobs, list) or not jobs:
            raise SpecError(f"{path}.scrape_configs: expected a non-empty list of jobs "
                            f"({{job_name, targets, scrape_interval, metrics_path}})")
        receiver.scrape_configs = [read_scrape_job(job, f"{path}.scrape_configs[{index}]")
                                   for index, job in enumerate(jobs)]
    elif receiver_type == "hostmetrics":
        receiver.host_metrics = read_host_metrics(mapping, path)
    elif receiver_type == "filelog":
        receiver.file_log = read_file_log(mapping, path)
    elif receiver_type == "journald":
        receiver.journald = read_journald(mapping, path)
    else:
        raise SpecError(f"{path}: unknown receiver type {receiver_type!r}; accepted: {', '.join(sorted(RECEIVER_SIGNALS))}")
    return receiver


def read_connector(component_id: str, value: Any, path: str) -> ConnectorSpec:
    """A connector of spec.connectors (spanmetrics, servicegraph or forward)."""
    connector_type = canonical_type("connectors", component_type(component_id))
    mapping = read_mapping({} if value is None else value, path)
    connector = ConnectorSpec(component_id=component_id, type=connector_type, path=path)
    if connector_type == "spanmetrics":
        check_keys(mapping, path, ("dimensions", "histogram_buckets", "metrics_flush_interval"))
        connector.histogram_buckets = read_durations(mapping.get("histogram_buckets"), f"{path}.histogram_buckets")
        if "metrics_flush_interval" in mapping:
            connector.metrics_flush_interval = read_positive_duration(mapping["metrics_flush_interval"],
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
        removed = removed_component("connectors", connector_type)
        raise SpecError(f"{path}: unknown connector type {connector_type!r}; accepted: "
                        f"{', '.join(sorted(CONNECTOR_TYPE_NAMES))}" + (f" ({removed[1]})" if removed else ""))
    if "dimensions" in mapping:
        builtin = SPANMETRICS_BUILTIN_DIMENSIONS if connector_type == "spanmetrics" else ()
        connector.dimensions = read_dimensions(mapping["dimensions"], f"{path}.dimensions", builtin)
    return connector


# Where the 'and' and 'composite' policies keep their sub-policies.
SUB_POLICY_LISTS = {"and": "and_sub_policy", "composite": "composite_sub_policy"}


def read_policy(policy: Any, path: str) -> Config:
    """One tail-sampling policy: a name, a known type and its settings; sub-policies are checked too."""
    policy_map = read_mapping(policy, path)
    problems = Problems()
    problems.attempt(read_name, policy_map.get("name"), f"{path}.name")
    policy_type = problems.attempt(read_str, policy_map.get("type"), f"{path}.type", TAIL_SAMPLING_POLICY_TYPES)
    if policy_type is not None and policy_type not in policy_map \
            and policy_type not in TAIL_SAMPLING_POLICIES_WITHOUT_SETTINGS:
        problems.add(f"{path}: a policy of type {policy_type!r} needs its settings under the key {policy_type!r}")
    settings = policy_map.get(policy_type) if policy_type in SUB_POLICY_LISTS else None
    if isinstance(settings, Mapping) and isinstance(settings.get(SUB_POLICY_LISTS[policy_type]), list):
        list_path = f"{path}.{policy_type}.{SUB_POLICY_LISTS[policy_type]}"
        for index, sub_policy in enumerate(settings[SUB_POLICY_LISTS[policy_type]]):
            problems.attempt(read_policy, sub_policy, f"{list_path}[{index}]")
    problems.raise_if_any()
    return copy.deepcopy(dict(policy_map))


def read_sampling(value: Any, path: str) -> SamplingSpec:
    """A pipeline's sampling: probabilistic or tail, with checked policies."""
    mapping = read_mapping(value, path)
    check_keys(mapping, path, ("probabilistic", "tail"))
    if len(mapping) != 1:
        raise SpecError(f"{path}: give exactly one of 'probabilistic' or 'tail'")
    if "probabilistic" in mapping:
        options = read_mapping(mapping["probabilistic"], f"{path}.probabilistic")
        check_keys(options, f"{path}.probabilistic", ("percentage",))
        percentage = read_number(options.get("percentage"), f"{path}.probabilistic.percentage", 0.0, 100.0)
        if 0 < percentage < MIN_SAMPLING_PERCENTAGE:
            raise SpecError(f"{path}.probabilistic.percentage: {percentage} is below the smallest rate the "
                            f"probabilistic sampler can represent ({MIN_SAMPLING_PERCENTAGE:.4g}, a ratio of 2^-56); "
                            f"the collector refuses it; give 0 to drop everything or a larger percentage")
        return SamplingSpec(kind="probabilistic", percentage=percentage)
    options = read_mapping(mapping["tail"], f"{path}.tail")
    check_keys(options, f"{path}.tail", ("decision_wait", "num_traces", "policies"))
    policies = options.get("policies")
    if not isinstance(policies, list) or not policies:
        raise SpecError(f"{path}.tail.policies: expected a non-empty list of tail_sampling policies, e.g. "
                        f"[{{name: errors, type: status_code, status_code: {{status_codes: [ERROR]}}}}]")
    checked: List[Config] = []
    problems = Problems()
    for index, policy in enumerate(policies):
        checked.append(problems.attempt(read_policy, policy, f"{path}.tail.policies[{index}]"))
    problems.raise_if_any()
    return SamplingSpec(
        kind="tail",
        decision_wait=read_duration(options.get("decision_wait", "10s"), f"{path}.tail.decision_wait"),
        num_traces=read_int(options.get("num_traces", 50000), f"{path}.tail.num_traces", minimum=1),
        policies=checked,
    )


def read_pipeline(pipeline_id: str, value: Any, path: str) -> PipelineSpec:
    """A pipeline: its receivers, extra processors, exporters and sampling; every problem is reported."""
    mapping = read_mapping(value, path)
    problems = Problems()
    problems.attempt(check_keys, mapping, path, ("receivers", "extra_processors", "exporters", "sampling"))
    signal = pipeline_id.split("/", 1)[0]
    receivers = problems.attempt(read_str_list, mapping.get("receivers", ["otlp"]), f"{path}.receivers")
    exporters = problems.attempt(read_str_list, mapping.get("exporters"), f"{path}.exporters") \
        if "exporters" in mapping else []
    extra_processors = problems.attempt(read_str_list, mapping.get("extra_processors", []),
                                        f"{path}.extra_processors")
    if receivers is not None and not receivers:
        problems.add(f"{path}.receivers: a pipeline needs at least one receiver")
    if exporters is not None and not exporters:
        problems.add(f"{path}.exporters: a pipeline needs at least one exporter (a backend name or a connector id)")
    lists = {"receivers": receivers, "extra_processors": extra_processors, "exporters": exporters}
    for field_name, items in lists.items():
        for index, item in enumerate(items or []):
            if item in items[:index]:
                problems.add(f"{path}.{field_name}[{index}]: {item!r} is listed twice")
    sampling = None
    if "sampling" in mapping:
        sampling = problems.attempt(read_sampling, mapping["sampling"], f"{path}.sampling")
    problems.raise_if_any()
    return PipelineSpec(pipeline_id=pipeline_id, signal=signal, path=path, receivers=receivers or [],
                        extra_processors=extra_processors or [], exporters=exporters or [], sampling=sampling)


def read_section(spec: Mapping, key: str) -> Mapping:
    """A top-level mapping section of the spec (missing or null reads as empty)."""
    return read_mapping(spec.get(key) or {}, f"spec.{key}")


def read_items(spec: Mapping, key: str, problems: Problems, spec_key_reader: Callable[[Any, str], str],
               item_reader: Callable[[str, Any, str], T], unreadable: Set[str]) -> Dict[str, T]:
    """Read every item of a named section; an item that cannot be read is recorded and skipped."""
    section = problems.attempt(read_section, spec, key, default={})
    items: Dict[str, T] = {}
    for name, value in section.items():
        path = f"spec.{key}.{name}"
        if problems.attempt(spec_key_reader, name, path) is None:
            unreadable.add(name)
            continue
        item = problems.attempt(item_reader, name, value, path)
        if item is None:
            unreadable.add(name)
        else:
            items[name] = item
    return items


def read_processor(component_id: str, value: Any, path: str) -> Config:
    """A processor of spec.processors: its raw settings (render copies them into the configuration)."""
    return dict(read_mapping({} if value is None else value, path))


def read_pipeline_entry(pipeline_id: str, value: Any, path: str) -> PipelineSpec:
    """A pipeline of spec.pipelines, after checking its id names a signal."""
    signal = pipeline_id.split("/", 1)[0]
    if signal not in SIGNALS:
        raise SpecError(f"{path}: unknown signal {signal!r}; accepted pipeline names: traces, metrics, logs, "
                        f"optionally followed by '/name' (e.g. 'traces/sampled')")
    if "/" in pipeline_id and not NAME_PATTERN.fullmatch(pipeline_id.split("/", 1)[1]):
        raise SpecError(f"{path}: the part after '/' must be a name (letters, digits, '_', '.', '-')")
    if "/" in pipeline_id:
        check_name_length(pipeline_id.split("/", 1)[1], path, "name after '/'")
    return read_pipeline(pipeline_id, value, path)


ExtensionAddresses = Tuple[ListenAddress, Optional[ListenAddress], Optional[ListenAddress]]


def read_extensions(spec: Mapping, problems: Problems) -> ExtensionAddresses:
    """health_check (always on), pprof and zpages listen addresses."""
    extensions = problems.attempt(read_section, spec, "extensions", default={})
    problems.attempt(check_keys, extensions, "spec.extensions", ("health_check", "pprof", "zpages"))
    health_check = parse_host_port(HEALTH_CHECK_DEFAULT, "spec.extensions.health_check")
    if "health_check" in extensions and extensions["health_check"] is None:
        problems.add("spec.extensions.health_check: the health_check extension is always on; give a "
                     "\"host:port\" to move it, not null")
    elif "health_check" in extensions:
        health_check = problems.attempt(parse_host_port, extensions["health_check"], "spec.extensions.health_check",
                                        default=health_check)
    optional = [problems.attempt(parse_host_port, extensions[key], f"spec.extensions.{key}")
                if extensions.get(key) else None for key in ("pprof", "zpages")]
    return health_check, optional[0], optional[1]


BATCH_FLUSH_TIMEOUT = "200ms"
BATCH_SIZERS = ("bytes", "items")


def default_batch(version: Version) -> BatchSpec:
    """spec.batch when the spec gives none: counted in bytes where exporters batch themselves, else in
    items (the batch processor counts nothing else)."""
    sizer = "bytes" if exporters_batch_themselves(version) else "items"
    return BatchSpec(BATCH_FLUSH_TIMEOUT, sizer, *BATCH_DEFAULT_SIZES[sizer])


def read_batch(spec: Mapping, version: Version) -> BatchSpec:
    """spec.batch: the exporter-side (or, for old collectors, processor) batching settings.

    Sizes given without a sizer are refused where the exporters batch: they counted items before
    the default became bytes, and a batch counted in items may outgrow what a backend takes."""
    batch_map = read_section(spec, "batch")
    problems = Problems()
    problems.attempt(check_keys, batch_map, "spec.batch", ("flush_timeout", "sizer", "min_size", "max_size"))
    batch = default_batch(version)
    if "flush_timeout" in batch_map:
        batch.flush_timeout = problems.attempt(read_positive_duration, batch_map["flush_timeout"],
                                               "spec.batch.flush_timeout", default=batch.flush_timeout)
    if "sizer" in batch_map:
        batch.sizer = problems.attempt(read_str, batch_map["sizer"], "spec.batch.sizer", BATCH_SIZERS,
                                       default=batch.sizer)
        if batch.sizer == "bytes" and not exporters_batch_themselves(version):
            problems.add(f"spec.batch.sizer: collector {format_version(version)} batches in the batch processor, "
                         f"which counts items only; accepted: items (bytes needs collector "
                         f"{format_version(EXPORTER_BATCHING_VERSION)} or later)")
        batch.min_size, batch.max_size = BATCH_DEFAULT_SIZES[batch.sizer]
    elif exporters_batch_themselves(version) and ({"min_size", "max_size"} & set(batch_map)):
        problems.add(f"spec.batch.sizer: missing; say what min_size and max_size count, bytes or items (the "
                     f"default, bytes, keeps each request within the {GRPC_MAX_MESSAGE_MIB} MiB an OTLP/gRPC "
                     f"backend takes by default; counted in items, a batch of large spans may pass it, and the "
                     f"backend's refusal drops it)")
    if "min_size" in batch_map:
        batch.min_size = problems.attempt(read_int, batch_map["min_size"], "spec.batch.min_size", minimum=1,
                                          default=batch.min_size)
    if "max_size" in batch_map:
        batch.max_size = problems.attempt(read_int, batch_map["max_size"], "spec.batch.max_size", minimum=0,
                                          default=batch.max_size)
    if batch.max_size and batch.max_size < batch.min_size:
        problems.add(f"spec.batch.max_size: {batch.max_size} is smaller than min_size {batch.min_size}; "
                     f"accepted: 0 (no limit) or >= min_size")
    problems.raise_if_any()
    return batch


def read_overrides(spec: Mapping) -> Dict[str, Config]:
    """spec.overrides: raw sections merged into the rendered configuration, copied."""
    overrides = read_section(spec, "overrides")
    problems = Problems()
    problems.attempt(check_keys, overrides, "spec.overrides", COMPONENT_KINDS + ("service",))
    result: Dict[str, Config] = {}
    for kind, section in overrides.items():
        if kind in COMPONENT_KINDS + ("service",) and problems.attempt(
                read_mapping, section, f"spec.overrides.{kind}") is not None:
            if kind in COMPONENT_KINDS:
                # null removes a component; anything else must be a component's settings (a mapping).
                for component_id, settings in section.items():
                    if settings is not None:
                        problems.attempt(read_mapping, settings, f"spec.overrides.{kind}.{component_id}")
            result[kind] = copy.deepcopy(dict(section))
    problems.raise_if_any()
    return result


def read_version(spec: Mapping, version_argument: Optional[str]) -> Version:
    """The target collector version: the filter argument, else spec.collector_version, else the default."""
    if version_argument is not None:
        return parse_version(version_argument, "version (filter argument)")
    return parse_version(spec.get("collector_version", DEFAULT_COLLECTOR_VERSION), "spec.collector_version")


def read_spec(raw: Any, version_argument: Optional[str]) -> Spec:
    """Read the whole spec. Problems are collected in Spec.problems, not raised, so that all are reported.

    Only a spec that is not a mapping at all raises SpecError.
    """
    spec = read_mapping(raw, "spec")
    problems = Problems()
    unreadable: Set[str] = set()
    problems.attempt(check_keys, spec, "spec", TOP_LEVEL_KEYS)
    default_version = parse_version(DEFAULT_COLLECTOR_VERSION, "default")
    version = problems.attempt(read_version, spec, version_argument, default=default_version)
    memory = MemorySpec(limit_mib=1, spike_limit_mib=0, check_interval="1s")  # stands in when memory is wrong
    if "memory" not in spec:
        problems.add("spec.memory: missing; give host_mib (the host's memory in MiB) or limit_mib so that "
                     "memory_limiter gets a limit that fits the host")
    else:
        memory = problems.attempt(read_memory, spec["memory"], "spec.memory", default=memory)

    raw_receivers = spec if "receivers" in spec else {"receivers": {"otlp": {}}}
    receivers = read_items(raw_receivers, "receivers", problems, read_component_id, read_receiver, unreadable)
    backends = read_items(spec, "backends", problems, read_name, read_backend, unreadable)
    connectors = read_items(spec, "connectors", problems, read_component_id, read_connector, unreadable)
    rendered_connectors: Dict[str, str] = {}
    for connector in connectors.values():
        rendered = connector_rendered_id(connector, version)
        if rendered in rendered_connectors:
            problems.add(f"{connector.path}: {connector.component_id!r} and {rendered_connectors[rendered]!r} are "
                         f"the same connector ({rendered!r} for collector {format_version(version)}); keep one")
        rendered_connectors[rendered] = connector.component_id
    processors = read_items(spec, "processors", problems, read_component_id, read_processor, unreadable)

    pipeline_count = len(problems.attempt(read_section, spec, "pipelines", default={}))
    pipelines = read_items(spec, "pipelines", problems, lambda value, path: value, read_pipeline_entry, set())
    if not pipeline_count and not any(problem.startswith("spec.pipelines:") for problem in problems.items):
        problems.add("spec.pipelines: missing or empty; define at least one pipeline, e.g. "
                     "{traces: {receivers: [otlp], exporters: [tempo]}}")

    resource_attributes = problems.attempt(read_str_map, spec.get("resource_attributes") or {},
                                           "spec.resource_attributes", default={})
    persistent_directory = problems.attempt(read_persistent_queue, spec)
    for receiver in receivers.values():
        problems.attempt(settle_offsets_directory, receiver, persistent_directory)
    health_check, pprof, zpages = read_extensions(spec, problems)

    telemetry = problems.attempt(read_section, spec, "telemetry", default={})
    problems.attempt(check_keys, telemetry, "spec.telemetry", ("metrics_address", "metrics_level", "log_level"))
    telemetry_metrics = problems.attempt(
        parse_host_port, telemetry.get("metrics_address", TELEMETRY_METRICS_DEFAULT), "spec.telemetry.metrics_address",
        default=parse_host_port(TELEMETRY_METRICS_DEFAULT, "spec.telemetry.metrics_address"))
    metrics_level = problems.attempt(read_str, telemetry.get("metrics_level", "normal"),
                                     "spec.telemetry.metrics_level", ("none", "basic", "normal", "detailed"),
                                     default="normal")
    log_level = problems.attempt(read_str, telemetry.get("log_level", "info"), "spec.telemetry.log_level",
                                 ("debug", "info", "warn", "error"), default="info")

    kubernetes = problems.attempt(read_kubernetes, spec)
    max_mib = problems.attempt(read_persistent_queue_max_mib, spec, version, kubernetes)
    return Spec(
        version=version, memory=memory, receivers=receivers, backends=backends, connectors=connectors,
        processors=processors, pipelines=pipelines, resource_attributes=resource_attributes,
        persistent_queue_directory=persistent_directory,
        persistent_queue_max_mib=max_mib,
        persistent_queue_intake=problems.attempt(read_persistent_queue_intake, spec, persistent_directory, max_mib),
        health_check=health_check, pprof=pprof, zpages=zpages,
        telemetry_metrics=telemetry_metrics, telemetry_metrics_level=metrics_level, log_level=log_level,
        batch=problems.attempt(read_batch, spec, version, default=default_batch(version)),
        overrides=problems.attempt(read_overrides, spec, default={}),
        distribution=problems.attempt(read_distribution, spec["distribution"], "spec.distribution",
                                      default=UPSTREAM_CONTRIB) if spec.get("distribution") is not None
        else UPSTREAM_CONTRIB,
        kubernetes=kubernetes,
        resource_detection=problems.attempt(read_resource_detection, spec),
        problems=problems.items, unreadable=unreadable,
        pipelines_incomplete=len(pipelines) < pipeline_count,
    )
