# -*- coding: utf-8 -*-
# Copyright: observability.lgtm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Stage 3, lint: spec-level checks that need the whole spec.

Every problem is collected (with its spec path) and returned together:
references between pipelines and components, unused components, connector
wiring, component types the target collector lacks, high-cardinality metric
dimensions, listen-port clashes, and the disk queue's bound and reach.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from typing import Any, Dict, FrozenSet, List, Optional, Tuple

from ansible_collections.observability.lgtm.plugins.module_utils.otelcol_spec import (
    Config, ListenAddress, Spec, Version,
)
from ansible_collections.observability.lgtm.plugins.module_utils.otelcol_facts import (
    BACKEND_TYPES, COLLECTOR_OTLP_GRPC, backend_exporter_type, CONNECTOR_SIGNALS, DISK_QUEUE_MIN_SHARE_MIB, EXPORTER_BATCHING_VERSION,
    ID_NAME_MAX_LENGTH, MIB, RECEIVER_SIGNALS, component_type, default_port, disk_queue_count, intake_addresses,
    disk_queue_share_bytes, has_remote_write_queue, is_k8s_attributes, k8s_attributes_id, removed_component, resource_detection_id,
    versioned_type, format_version,
)
from ansible_collections.observability.lgtm.plugins.module_utils.otelcol_values import (
    COMPONENT_ID_PATTERN, LOOPBACK_NAMES, host_name,
)

# Attribute keys whose values are (nearly) unique per request, user or trace.
# As metric dimensions they create one time series per value.
HIGH_CARDINALITY_KEYS = frozenset({
    "user.id", "user_id", "userid", "enduser.id", "enduser_id", "customer.id", "customer_id",
    "http.request_id", "http.request.id", "request_id", "request.id", "requestid", "x-request-id",
    "trace_id", "trace.id", "traceid", "span_id", "span.id", "spanid",
    "session.id", "session_id", "sessionid", "correlation_id", "correlation.id",
    "transaction.id", "transaction_id", "message.id", "message_id", "messaging.message.id",
    # personal identifiers: e-mail addresses, user names, phone numbers, client addresses
    "email", "e-mail", "mail", "user.email", "enduser.email", "email_address", "email.address",
    "user.name", "user_name", "username", "user.full_name", "phone", "phone_number", "user.phone",
    "client.address", "client.ip", "client_ip", "http.client_ip", "net.peer.ip", "source.address",
    # session identifiers under their usual cookie and header names
    "jsessionid", "phpsessid", "asp.net_sessionid", "sid", "session", "session.token", "session_token",
    # whole URLs, raw paths and query strings (IDs included; http.route is the bounded template),
    # queries with their values, free text, ephemeral ports
    "url.full", "http.url", "url.query", "url.path", "http.target", "url.original",
    "db.statement", "db.query.text", "exception.message", "exception.stacktrace",
    "client.port", "network.peer.port", "net.peer.port", "source.port",
})


HIGH_CARDINALITY_PATTERN = re.compile(
    r"(^|[._-])(user|enduser|customer|request|trace|span|session|correlation|transaction|message)[._-]?id$"
    r"|(^|[._-])e[._-]?mail([._-]?address)?$"
    r"|(^|[._-])session([._-]?(id|key|token))?$"
)


HIGH_CARDINALITY_ADVICE = (
    "is a high-cardinality attribute (a new value per user/request/trace): as a metric dimension it creates "
    "one time series per value, which blows up metric storage (Mimir/Prometheus memory and index size) and "
    "query cost. That data belongs in traces (span attributes) or logs, not in metric labels; "
    "remove it from the metric dimensions"
)


# Processor actions that put a key onto the data (as opposed to delete/hash).
PROMOTING_ACTIONS = frozenset({"insert", "upsert", "update", "convert", "extract"})
# The attribute actions of the attributes and resource processors
# (coreinternal/attraction), and where each processor keeps its list.
ATTRIBUTE_ACTIONS = ("insert", "update", "upsert", "delete", "hash", "extract", "convert")
ACTION_LISTS = {"attributes": "actions", "resource": "attributes"}


# Named groups of a Go regular expression: (?P<name>...) and (?<name>...).
EXTRACT_GROUP_PATTERN = re.compile(r"\(\?P?<([A-Za-z_][A-Za-z0-9_]*)>")


TRANSFORM_SET_PATTERN = re.compile(r"set\(\s*(?:resource\.|datapoint\.|scope\.)?attributes\[\s*\"([^\"]+)\"\s*\]")


WILDCARD_HOSTS = frozenset({"", "0.0.0.0", "::", "[::]"})


def is_high_cardinality(key: str) -> bool:
    """True for an attribute key whose values are (nearly) unique per user, request or trace."""
    lowered = key.strip().lower()
    return lowered in HIGH_CARDINALITY_KEYS or bool(HIGH_CARDINALITY_PATTERN.search(lowered))


def removed_component_problem(kind: str, type_name: str, version: Version) -> Optional[str]:
    """The problem of a component type removed upstream by the target version, if any."""
    removed = removed_component(kind, type_name)
    if removed and version >= removed[0]:
        return (f"the '{type_name}' {kind[:-1]} was removed in collector {format_version(removed[0])} "
                f"(target is {format_version(version)}); {removed[1]}")
    return None


def component_type_problem(kind: str, type_name: str, spec: Spec) -> Optional[str]:
    """A component type that was removed upstream or that the spec's collector distribution lacks."""
    removed = removed_component_problem(kind, type_name, spec.version)
    if removed:
        return removed
    distribution = spec.distribution
    if distribution is not None and not distribution.has(kind, type_name):
        accepted = distribution.accepted(kind)
        return (f"{kind[:-1]} type '{type_name}' is not in the collector distribution ({distribution.source})"
                + (f"; accepted: {accepted or 'none'}" if accepted is not None else ""))
    return None


def emitted_components(spec: Spec) -> List[Tuple[str, str, str]]:
    """(spec path, kind, type) of every component the rendered configuration will hold."""
    version = spec.version
    found: List[Tuple[str, str, str]] = [(receiver.path, "receivers", receiver.type)
                                         for receiver in spec.receivers.values()]
    found.extend((backend.path, "exporters", backend_exporter_type(backend, version))
                 for backend in spec.backends.values())
    found.extend((connector.path, "connectors", versioned_type("connectors", connector.type, version))
                 for connector in spec.connectors.values())
    found.append(("spec.memory", "processors", "memory_limiter"))
    if spec.agent is not None:
        found.append((spec.agent.path, "processors", k8s_attributes_id(version)))
    if spec.resource_detection is not None:
        found.append(("spec.resource_detection", "processors", resource_detection_id(version)))
    if spec.resource_attributes:
        found.append(("spec.resource_attributes", "processors", "resource"))
    if version < EXPORTER_BATCHING_VERSION:
        found.append(("spec.batch", "processors", "batch"))
    for pipeline in spec.pipelines.values():
        if pipeline.sampling is not None:
            sampler = "probabilistic_sampler" if pipeline.sampling.kind == "probabilistic" else "tail_sampling"
            found.append((f"{pipeline.path}.sampling", "processors", sampler))
    found.append(("spec.extensions.health_check", "extensions", "health_check"))
    found.extend((f"{receiver.path}.auth", "extensions", "bearertokenauth")
                 for receiver in spec.receivers.values() if receiver.bearer_tokens)
    if spec.persistent_queue_directory is not None:
        found.append(("spec.persistent_queue", "extensions", "file_storage"))
    found.extend((f"{receiver.path}.offsets_directory", "extensions", "file_storage")
                 for receiver in spec.receivers.values() if receiver.offsets_directory is not None)
    found.extend((f"spec.extensions.{name}", "extensions", name)
                 for name, address in (("pprof", spec.pprof), ("zpages", spec.zpages)) if address is not None)
    return found


def lint_distribution(spec: Spec, problems: List[str]) -> None:
    """Every component the filter emits must be in the collector distribution the spec targets."""
    distribution = spec.distribution
    if distribution is None:
        return
    for path, kind, type_name in emitted_components(spec):
        if not distribution.has(kind, type_name):
            problems.append(f"{path}: needs the {kind[:-1]} type '{type_name}', which is not in the collector "
                            f"distribution ({distribution.source}); add it to the build or drop this setting")


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
            elif name not in override_receivers and name not in spec.unreadable:
                problems.append(f"{path}: {name!r} is not defined; accepted: a receiver from spec.receivers "
                                f"({', '.join(sorted(spec.receivers)) or 'none'}) or a connector from spec.connectors "
                                f"({', '.join(sorted(spec.connectors)) or 'none'})")
            usage.setdefault(name, set()).add(("receiver", pipeline.signal))
        for index, name in enumerate(pipeline.extra_processors):
            path = f"{pipeline.path}.extra_processors[{index}]"
            if name not in spec.processors and name not in spec.unreadable:
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
            elif name not in override_exporters and name not in spec.unreadable:
                problems.append(f"{path}: {name!r} is not defined; accepted: a backend from spec.backends "
                                f"({', '.join(sorted(spec.backends)) or 'none'}), a connector from spec.connectors "
                                f"({', '.join(sorted(spec.connectors)) or 'none'}) or an exporter id from "
                                f"spec.overrides.exporters")
            usage.setdefault(name, set()).add(("exporter", pipeline.signal))
        # The sampler rendered for the pipeline is named after it, '/' turned into '_'.
        sampler_name = pipeline.pipeline_id.replace("/", "_")
        if pipeline.sampling is not None and len(sampler_name) > ID_NAME_MAX_LENGTH:
            problems.append(f"{pipeline.path}.sampling: the sampler of this pipeline is named {sampler_name[:20]!r}... "
                            f"({len(sampler_name)} characters); the collector accepts at most {ID_NAME_MAX_LENGTH}; "
                            f"shorten the pipeline name")
        if pipeline.sampling is not None and pipeline.signal != "traces":
            problems.append(f"{pipeline.path}.sampling: sampling applies to traces pipelines only, "
                            f"not {pipeline.signal}")
    return usage


def lint_unused_and_connectors(spec: Spec, usage: Dict[str, set], problems: List[str]) -> None:
    """Components no pipeline uses, and connectors not used on both sides (skipped if a pipeline was unreadable)."""
    if spec.pipelines_incomplete:
        return

    def roles(name: str) -> set:
        """The roles ('receiver', 'exporter', 'processor') a name is used in."""
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
    """Processor and override component types: removed, missing from the distribution or managed here."""
    for name, config in spec.processors.items():
        type_name = component_type(name)
        problem = component_type_problem("processors", type_name, spec)
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
            if not isinstance(component_id, str) or not COMPONENT_ID_PATTERN.fullmatch(component_id):
                problems.append(f"{path}: not a component id; accepted: 'type' or 'type/name'")
                continue
            problem = component_type_problem(kind, component_type(component_id), spec)
            if problem:
                problems.append(f"{path}: {problem}")


def lint_high_cardinality(spec: Spec, problems: List[str]) -> None:
    """High-cardinality keys that would become metric dimensions."""
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
    list_key = ACTION_LISTS.get(type_name)
    if list_key is not None:
        # attributes keeps its list under 'actions', resource under 'attributes'.
        actions = config.get(list_key)
        for index, action in enumerate(actions if isinstance(actions, list) else []):
            if not isinstance(action, Mapping) or not isinstance(action.get("action"), str):
                continue
            path = f"{base}.{list_key}[{index}]"
            if action["action"] == "extract":
                # extract writes one attribute per named group of its pattern; its key is only read.
                pattern = action.get("pattern")
                for group in EXTRACT_GROUP_PATTERN.findall(pattern if isinstance(pattern, str) else ""):
                    found.append((f"{path}.pattern", group))
            elif action["action"] in PROMOTING_ACTIONS and isinstance(action.get("key"), str):
                found.append((f"{path}.key", action["key"]))
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
    """Every address the collector will listen on, with the spec path that set it."""
    addresses: List[ListenAddress] = []
    for receiver in spec.receivers.values():
        addresses.extend(address for address in (receiver.grpc, receiver.http) if address is not None)
    addresses.append(spec.health_check)
    addresses.extend(address for address in (spec.pprof, spec.zpages) if address is not None)
    addresses.append(spec.telemetry_metrics)
    addresses.extend(intake_addresses(spec).values())
    return addresses


def host_addresses(host: str) -> FrozenSet[str]:
    """The addresses a listen host stands for, spelled one way: 'localhost' and '127.0.0.1' meet."""
    name = host_name(host)
    if name in LOOPBACK_NAMES:
        return frozenset({"127.0.0.1", "::1"})
    try:
        return frozenset({str(ipaddress.ip_address(name))})
    except ValueError:
        return frozenset({name})


def is_wildcard(host: str) -> bool:
    """True for a host that listens on every address ('', 0.0.0.0, ::, and other spellings of them)."""
    if host in WILDCARD_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_unspecified
    except ValueError:
        return False


def addresses_clash(first: ListenAddress, second: ListenAddress) -> bool:
    """Two listeners that the kernel would not let share a port."""
    if first.port != second.port:
        return False
    if is_wildcard(first.host) or is_wildcard(second.host):
        return True
    return bool(host_addresses(first.host) & host_addresses(second.host))


def lint_port_clashes(addresses: List[ListenAddress], problems: List[str]) -> None:
    """Listeners that would share a port, each reported once at the later one."""
    for index, address in enumerate(addresses):
        for earlier in addresses[:index]:
            if addresses_clash(earlier, address):
                problems.append(f"{address.path}: {address.text} clashes with {earlier.text} set at {earlier.path}; "
                                f"two listeners cannot share a port (the collector would fail to start with "
                                f"'address already in use'); pick another port")
                break


def lint_processor_actions(spec: Spec, problems: List[str]) -> None:
    """Each action of an attributes or resource processor is a mapping with a known action name."""
    for name, config in spec.processors.items():
        list_key = ACTION_LISTS.get(component_type(name))
        if list_key is None or list_key not in config:
            continue
        path = f"spec.processors.{name}.{list_key}"
        actions = config[list_key]
        if not isinstance(actions, list):
            problems.append(f"{path}: expected a list of actions ({{key, action, ...}}), got {actions!r}")
            continue
        for index, action in enumerate(actions):
            if not isinstance(action, Mapping):
                problems.append(f"{path}[{index}]: expected an action mapping ({{key, action, ...}}), got {action!r}")
            elif not isinstance(action.get("action"), str) or action["action"] not in ATTRIBUTE_ACTIONS:
                problems.append(f"{path}[{index}].action: expected one of {', '.join(ATTRIBUTE_ACTIONS)}, got "
                                f"{action.get('action')!r}")


def connector_edges(spec: Spec) -> Dict[str, List[Tuple[str, int, str]]]:
    """pipeline id -> [(connector, index in its exporters, pipeline id that connector feeds)]."""
    readers: Dict[str, List[str]] = {}
    for pipeline in spec.pipelines.values():
        for name in pipeline.receivers:
            if name in spec.connectors:
                readers.setdefault(name, []).append(pipeline.pipeline_id)
    edges: Dict[str, List[Tuple[str, int, str]]] = {}
    for pipeline in spec.pipelines.values():
        for index, name in enumerate(pipeline.exporters):
            for target in readers.get(name, []):
                edges.setdefault(pipeline.pipeline_id, []).append((name, index, target))
    return edges


def find_cycle(edges: Dict[str, List[Tuple[str, int, str]]], start: str) -> Optional[List[Tuple[str, int, str]]]:
    """The shortest chain of connector edges from a pipeline back to itself, or None."""
    paths: List[List[Tuple[str, int, str]]] = [[edge] for edge in edges.get(start, [])]
    seen = set()
    while paths:
        chain = paths.pop(0)
        target = chain[-1][2]
        if target == start:
            return chain
        if target in seen:
            continue
        seen.add(target)
        paths.extend(chain + [edge] for edge in edges.get(target, []))
    return None


def lint_connector_cycles(spec: Spec, problems: List[str]) -> None:
    """Data must not loop through connectors: the collector refuses a pipeline graph with a cycle."""
    edges = connector_edges(spec)
    reported = set()
    for pipeline_id in sorted(edges):
        chain = find_cycle(edges, pipeline_id)
        if chain is None:
            continue
        members = frozenset(target for _name, _index, target in chain)
        if members in reported:
            continue
        reported.add(members)
        steps = " -> ".join(f"{name} -> {target}" for name, _index, target in chain)
        first_name, first_index, _target = chain[0]
        problems.append(f"{spec.pipelines[pipeline_id].path}.exporters[{first_index}]: connector {first_name!r} "
                        f"sends data back into pipeline {pipeline_id!r} ({pipeline_id} -> {steps}); the collector "
                        f"refuses a cycle (\"cycle detected\"); feed a pipeline that does not lead back here")


AGENT = "a Kubernetes agent (spec.kubernetes.role: agent)"
# Why an agent must leave whole-trace work to the gateway.
AGENT_SEES_ONE_NODE = "it sees only the spans from the pods of its own node, not whole traces"
AGENT_MUST_NOT_SAMPLE = (f"{AGENT} must not sample: {AGENT_SEES_ONE_NODE}, and the spans it drops would be missing "
                         f"from the gateway's span metrics; sample on the gateway")
SAMPLING_PROCESSORS = frozenset({"tail_sampling", "probabilistic_sampler"})


def lint_kubernetes(spec: Spec, problems: List[str]) -> None:
    """The agent/gateway split: the agent tags and forwards, the gateway samples, aggregates and queues."""
    agent = spec.agent
    # spec.kubernetes given but unreadable: its own problems are reported, the role is unknown.
    role_unknown = any(problem.startswith("spec.kubernetes") for problem in spec.problems)
    for name in spec.processors:
        if not is_k8s_attributes(name) or role_unknown:
            continue
        if agent is None:
            problems.append(f"spec.processors.{name}: k8sattributes belongs on the Kubernetes agent, which receives "
                            f"straight from the pods; set spec.kubernetes.role: agent and the filter renders it (its "
                            f"keys under spec.kubernetes). On a gateway the connection is the agent's, not the pod's, "
                            f"and a host collector has no cluster to ask")
        else:
            problems.append(f"spec.processors.{name}: the agent renders its own {k8s_attributes_id(spec.version)} "
                            f"processor from spec.kubernetes; choose its metadata with spec.kubernetes.metadata, or "
                            f"change it through spec.overrides.processors.{k8s_attributes_id(spec.version)}")
    if agent is None:
        return
    for pipeline in spec.pipelines.values():
        if pipeline.sampling is not None:
            problems.append(f"{pipeline.path}.sampling: {AGENT_MUST_NOT_SAMPLE}")
    for name in spec.processors:
        if component_type(name) in SAMPLING_PROCESSORS:
            problems.append(f"spec.processors.{name}: {AGENT_MUST_NOT_SAMPLE}")
    for connector in spec.connectors.values():
        if connector.type in ("spanmetrics", "servicegraph"):
            problems.append(f"{connector.path}: {AGENT} must not have a {connector.type} connector: "
                            f"{AGENT_SEES_ONE_NODE}, so it would miss the calls between pods on different nodes and "
                            f"split each series across agents; put the connector on the gateway")
    if spec.persistent_queue_directory is not None and not agent.node_data:
        problems.append(f"spec.persistent_queue: {AGENT} keeps a persistent queue only where its data folder lives "
                        f"on its node (spec.kubernetes.node_data: true; the otel_collector role sets it from "
                        f"otel_collector_kubernetes_node_data_dir): a DaemonSet pod's own folders go with the pod; "
                        f"remove persistent_queue from the agent's spec (where a default spec sets it, set it to null "
                        f"or to {{enabled: false}})")
    lint_agent_forwards(spec, problems)


def lint_agent_forwards(spec: Spec, problems: List[str]) -> None:
    """The agent sends to the gateway: some pipeline exports to an 'otlp' backend."""
    if spec.agent is None or spec.pipelines_incomplete:
        return
    exported = {name for pipeline in spec.pipelines.values() for name in pipeline.exporters}
    if exported & spec.unreadable:
        return  # a backend that could not be read may be the gateway
    if not any(spec.backends[name].type == "otlp" for name in exported if name in spec.backends):
        problems.append(f"{spec.agent.path}.role: {AGENT} forwards to the gateway, but no pipeline exports to a "
                        f"backend of type 'otlp'; add one, e.g. gateway: {{type: otlp, endpoint: "
                        f"'otelcol-gateway.<namespace>.svc:{default_port(COLLECTOR_OTLP_GRPC)}'}}, and list it in "
                        f"the pipelines' exporters")


def lint_disk_queue(spec: Spec, problems: List[str]) -> None:
    """Each exporter's share of the disk queue's bound holds the largest request a sender sends by default,
    and a batch counted in bytes like the queue (the collector refuses a min_size above queue_size then)."""
    share = disk_queue_share_bytes(spec)
    if share is None:
        return
    queues = disk_queue_count(spec)
    if spec.batch.sizer == "bytes" and spec.batch.min_size > share:
        problems.append(f"spec.batch.min_size: {spec.batch.min_size} bytes is more than each disk queue holds "
                        f"({share} bytes, spec.persistent_queue.max_mib shared by {queues} queues); "
                        f"give at most {share}")
    if share >= DISK_QUEUE_MIN_SHARE_MIB * MIB:
        return
    problems.append(f"spec.persistent_queue.max_mib: {spec.persistent_queue_max_mib} MiB leaves each of the "
                    f"{queues} disk queues less than {DISK_QUEUE_MIN_SHARE_MIB} MiB, the largest request an OTLP/gRPC "
                    f"sender sends by default (a larger one is refused every time it is retried); give at least "
                    f"{queues * DISK_QUEUE_MIN_SHARE_MIB}")


def lint_remote_write_durability(spec: Spec, problems: List[str]) -> None:
    """A remote-write backend under a disk queue must say that its queue stays in memory.

    prometheusremotewrite has no exporterhelper sending_queue, so persistent_queue cannot cover it:
    its remote_write_queue is in memory and its retries stop after 300 s. Rendering that silently
    would break the promise persistent_queue makes; the spec says it knowingly (persistent: false)
    or uses OTLP, which both metrics backends that take remote write ingest as well.
    """
    if spec.persistent_queue_directory is None:
        return
    for backend in spec.backends.values():
        if has_remote_write_queue(backend) and backend.persistent is not False:
            problems.append(f"{backend.path}.protocol: remote_write keeps this backend's queue in memory (the "
                            f"prometheusremotewrite exporter has no disk storage), so spec.persistent_queue does not "
                            f"cover it: a collector restart, or a backend outage longer than 300 s, loses its metrics; "
                            f"use protocol 'otlp' ({backend.type} ingests OTLP), or set {backend.path}.persistent: "
                            f"false to accept that")


def lint_spec(spec: Spec) -> List[str]:
    """Every spec-level problem, each with its spec path."""
    problems: List[str] = []
    lint_processor_actions(spec, problems)
    usage = lint_pipeline_references(spec, problems)
    lint_unused_and_connectors(spec, usage, problems)
    lint_connector_cycles(spec, problems)
    lint_distribution(spec, problems)
    lint_component_types(spec, problems)
    lint_high_cardinality(spec, problems)
    lint_port_clashes(spec_listen_addresses(spec), problems)
    lint_kubernetes(spec, problems)
    lint_disk_queue(spec, problems)
    lint_remote_write_durability(spec, problems)
    return problems
