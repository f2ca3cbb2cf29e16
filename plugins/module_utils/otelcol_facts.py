# -*- coding: utf-8 -*-
# Copyright: observability.lgtm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Stage 1, facts: what this collection knows about collector versions and components.

Type renames per version, removed components, the backend-type table
(``BACKEND_TYPES``, built from the stack catalogue's backends, whose ``ingest``
says how the collector sends to each: a new backend needs nothing here), which
signals connectors and receivers carry, and the component ids each spec item
gets in the rendered configuration of a given version.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Set, Tuple

from ansible_collections.observability.lgtm.plugins.module_utils.otelcol_spec import (
    BackendSpec, ConnectorSpec, ListenAddress, PipelineSpec, Spec, Version,
)
from ansible_collections.observability.lgtm.plugins.module_utils.stack_catalogue import (
    CATALOGUE, Component as CatalogueComponent, default_port as catalogue_port,
)

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
    # contrib PR 45901, merged 2026-02-05; v0.146.0 is the first release with it.
    ("processors", "k8sattributes"): ((0, 146, 0), "k8s_attributes"),
    # Each module's metadata.yaml (`type`) in the module proxy's zips: filelog up to v0.148.0,
    # file_log from v0.149.0; hostmetrics at v0.149.0, host_metrics at v0.151.0 (v0.150.0 is not
    # served here: 0.151.0 is the first release certain to have it); resourcedetection at v0.152.0,
    # resource_detection at v0.155.0 (v0.153.0 and v0.154.0 are not served here).
    ("receivers", "filelog"): ((0, 149, 0), "file_log"),
    ("receivers", "hostmetrics"): ((0, 151, 0), "host_metrics"),
    ("processors", "resourcedetection"): ((0, 155, 0), "resource_detection"),
    # metadata.yaml `type` in the module proxy's zips: loadbalancing at v0.152.0, load_balancing
    # at v0.157.0 (v0.153.0 to v0.156.0 are not served here).
    ("exporters", "loadbalancing"): ((0, 157, 0), "load_balancing"),
}


# new type -> old type, to accept either spelling in a spec
RENAMED_FROM: Dict[Tuple[str, str], str] = {
    (kind, new): old for (kind, old), (_version, new) in TYPE_RENAMES.items()
}


# Exporter-side batching (`sending_queue.batch` in exporterhelper) replaced the
# experimental `batcher` section in v0.123.0, but until v0.129.0 it counted with the
# queue's sizer: a batch needs a queue counted in items or bytes, and a disk queue
# counts requests only there, so the two could not be had together (and the batch had
# no `sizer` key). From v0.130.0 the batch has its own sizer (queuebatch/config.go at
# v0.129.0 and v0.130.0). From then on exporters batch by themselves and the batch
# processor is not added: batching twice only adds latency and memory. Older targets
# get the batch processor instead.
EXPORTER_BATCHING_VERSION: Version = (0, 130, 0)


# A disk queue sized in bytes: the exporter helper's persistent queue refuses every
# sizer but `requests` up to v0.129.0 ("persistent queue configured with `storage` only
# supports `requests` sizer", queuebatch/config.go) and keeps the bytes of what it holds
# from v0.130.0 on (exporter module v0.130.0, queue/persistent_queue.go). Older targets
# keep a queue counted in requests (a backend's queue_size).
DISK_QUEUE_BYTES_VERSION: Version = (0, 130, 0)
# The disk queue's bound when a spec gives none (a Kubernetes gateway's is half its claim):
# all exporters' queues together, in MiB. Sized for a gateway: at 0.5 MB/s of serialized
# OTLP (1,000 spans a second of 500 bytes) it holds about 70 minutes of an outage.
DEFAULT_DISK_QUEUE_MAX_MIB = 2048
# The largest message an OTLP/gRPC server takes unless told otherwise: grpc-go's default
# receive limit, which configgrpc keeps when max_recv_msg_size_mib is unset, so the
# collector's own OTLP receiver, Jaeger's and Tempo's take no more. A larger request is
# refused with RESOURCE_EXHAUSTED ("received message after decompression larger than max"),
# which the OTLP exporter does not retry (otlpexporter's shouldRetry, v0.159.0): the request
# is dropped, whatever the queue.
GRPC_MAX_MESSAGE_MIB = 4
# The least share of the bound one exporter's queue may get: the largest request an
# OTLP/gRPC sender sends by default must fit in an empty queue, else it is refused every
# time it is retried.
DISK_QUEUE_MIN_SHARE_MIB = GRPC_MAX_MESSAGE_MIB
# How many times its bound a disk queue may take on disk: bbolt, the file_storage extension's
# database, splits its pages half full (its default fill percent, 0.5) and never shrinks its
# file. A host reserves this much room for each queue's file; a Kubernetes gateway's claim must
# hold it.
DISK_QUEUE_ROOM_FACTOR = 2
MIB = 1024 * 1024
# spec.batch's sizes by its sizer, where the spec gives none: (min_size, max_size). Counted in
# bytes (the default from EXPORTER_BATCHING_VERSION on), a request is sent once it holds 1 MiB
# or flush_timeout has passed, and holds at most what an OTLP/gRPC backend takes. Counted in
# items, 8,192 to 16,384 spans, records or points: 16,384 spans of 256 bytes already pass
# 4 MiB, and after an outage the queue's backlog leaves in full batches.
BATCH_DEFAULT_SIZES: Dict[str, Tuple[int, int]] = {
    "bytes": (1 * MIB, GRPC_MAX_MESSAGE_MIB * MIB),
    "items": (8192, 16384),
}


SIGNALS: Tuple[str, ...] = ("traces", "metrics", "logs")


COMPONENT_KINDS: Tuple[str, ...] = ("receivers", "processors", "exporters", "connectors", "extensions")


# A default port: (component, port name) in the stack catalogue, the one place
# it is written (module_utils/stack_catalogue.py; the roles' defaults read it too).
PortSetting = Tuple[str, str]
COLLECTOR_OTLP_GRPC: PortSetting = ("otel_collector", "otlp_grpc")
COLLECTOR_OTLP_HTTP: PortSetting = ("otel_collector", "otlp_http")


def default_port(setting: PortSetting) -> int:
    """The default port of a component's listener, from the stack catalogue."""
    return catalogue_port(*setting)


@dataclass(frozen=True)
class BackendProtocol:
    """How a backend type is reached over one protocol."""

    # Exporter type under its pre-rename name; TYPE_RENAMES gives the name per version.
    exporter: str
    # The backend's default port in the stack catalogue; None for types whose
    # spec gives the whole endpoint.
    port_setting: Optional[PortSetting] = None
    # Appended to scheme://host:port (http exporters only). The otlphttp
    # exporter adds /v1/<signal> to it, prometheusremotewrite posts to it as is.
    path: str = ""

    @property
    def port(self) -> Optional[int]:
        """The default port, from the stack catalogue."""
        return None if self.port_setting is None else default_port(self.port_setting)

    @property
    def is_grpc(self) -> bool:
        """True when the exporter speaks OTLP over gRPC."""
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


# The collector's exporter for each wire protocol a backend takes a signal over
# (the catalogue's Ingest.wire), under its pre-rename name.
EXPORTER_FOR_WIRE: Dict[str, str] = {"otlp_grpc": "otlp", "otlp_http": "otlphttp", "remote_write": "prometheusremotewrite"}


def catalogue_backend_type(entry: CatalogueComponent) -> BackendType:
    """A backend type from its stack catalogue entry: the signals it takes, how each of its protocols
    reaches it (exporter, default port, ingest path) and its tenant header."""
    return BackendType(
        signals=entry.accepts, tenant_header=entry.tenant_header,
        protocols={name: BackendProtocol(EXPORTER_FOR_WIRE[ingest.wire], (entry.name, ingest.port),
                                         ingest.path)
                   for name, ingest in entry.ingest.items()})


# Every backend of the stack catalogue (a new one needs no row here), then the
# two types that name no component: any OTLP endpoint, and the debug exporter.
BACKEND_TYPES: Dict[str, BackendType] = {
    **{name: catalogue_backend_type(entry) for name, entry in CATALOGUE.items() if entry.ingest},
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


# Components removed upstream: (kind, type) -> (first version without it, what
# to use instead). A "{<backend type>}" field is that type's default endpoint,
# filled in by removed_component (the ports come from the stack catalogue).
REMOVED_COMPONENTS: Dict[Tuple[str, str], Tuple[Version, str]] = {
    ("exporters", "logging"): ((0, 111, 0), "use a backend of type 'debug' (the debug exporter)"),
    ("exporters", "loki"): (
        (0, 131, 0),
        "use a backend of type 'loki', which sends OTLP over HTTP to Loki's native endpoint {loki}",
    ),
    # Only the exporter is gone: Jaeger itself takes OTLP, through the 'jaeger' backend type.
    ("exporters", "jaeger"): (
        (0, 85, 0),
        "Jaeger accepts OTLP natively: use a backend of type 'jaeger', which sends OTLP to {jaeger}",
    ),
    ("extensions", "memory_ballast"): ((0, 109, 0), "set GOMEMLIMIT (see the otelcol_gomemlimit filter)"),
}


def removed_component(kind: str, type_name: str) -> Optional[Tuple[Version, str]]:
    """(first version without it, what to use instead) of a component removed upstream, or None."""
    removed = REMOVED_COMPONENTS.get((kind, type_name))
    if removed is None:
        return None
    return removed[0], removed[1].format(**{name: backend_url_example(name) for name in ("loki", "jaeger")})


# Keys a user may write from older collector docs, for features that are gone:
# key -> what replaced it. An unknown key of this name gets the hint.
REMOVED_SPEC_KEYS: Dict[str, str] = {
    "memory_ballast": "the memory_ballast extension was removed in collector 0.109.0; set GOMEMLIMIT instead "
                      "(the otelcol_gomemlimit filter gives the value that matches spec.memory)",
    "ballast_size_mib": "memory_limiter's ballast_size_mib went with the memory_ballast extension (removed in "
                        "collector 0.109.0); set GOMEMLIMIT instead (the otelcol_gomemlimit filter)",
    "batcher": "the exporters' experimental batcher became sending_queue.batch in collector 0.123.0; the filter "
               "configures it from spec.batch",
    "logging": "the logging exporter was removed in collector 0.111.0; use a backend of type 'debug'",
}

# Which signals each connector type consumes (as exporter) and produces (as receiver).
# None means "the same signal on both sides" (forward).
CONNECTOR_SIGNALS: Dict[str, Optional[Tuple[Tuple[str, ...], Tuple[str, ...]]]] = {
    "spanmetrics": (("traces",), ("metrics",)),
    "servicegraph": (("traces",), ("metrics",)),
    "forward": None,
}


# Dimensions the span metrics connector always adds; listing one again is
# refused by its config validation ("duplicate dimension name").
SPANMETRICS_BUILTIN_DIMENSIONS: Tuple[str, ...] = ("service.name", "span.name", "span.kind", "status.code")

# The longest name (the part after '/') of a component or pipeline id the
# collector accepts (1024; checked with `validate` on the v0.159.0 build).
ID_NAME_MAX_LENGTH = 1024

# The smallest non-zero sampling_percentage of the probabilistic sampler: it
# refuses a ratio below 2^-56 ("sampling rate is too small"), checked with
# `validate` on the v0.159.0 build.
MIN_SAMPLING_PERCENTAGE = 100.0 * 2.0 ** -56

# Policy types of the tail_sampling processor in v0.159.0 (an unknown type
# passes `validate` but stops the collector at start with "unknown sampling
# policy type"). Types whose settings may be omitted are listed apart.
TAIL_SAMPLING_POLICY_TYPES: Tuple[str, ...] = (
    "always_sample", "and", "boolean_attribute", "bytes_limiting", "composite", "drop", "latency",
    "numeric_attribute", "ottl_condition", "probabilistic", "rate_limiting", "span_count", "status_code",
    "string_attribute", "trace_flags", "trace_state",
)
TAIL_SAMPLING_POLICIES_WITHOUT_SETTINGS: Tuple[str, ...] = ("always_sample",)

# memory_limiter keeps limit_mib and spike_limit_mib as 32-bit unsigned
# integers: a larger value wraps around (2^32 MiB reads as 0).
MEMORY_LIMITER_MAX_MIB = 2 ** 32 - 1

RECEIVER_SIGNALS: Dict[str, Tuple[str, ...]] = {
    "otlp": SIGNALS,
    "prometheus": ("metrics",),
    # What an agent reads on its own host: its metrics, its log files, its journal.
    "hostmetrics": ("metrics",),
    "filelog": ("logs",),
    "journald": ("logs",),
}

# hostmetrics: the scrapers an agent runs unless the spec names others (receiver/hostmetricsreceiver,
# internal/scraper, v0.159.0). `processes` counts processes by state; `process` gives every process
# its own series (a host's series multiply by its process count), so it is off unless asked for.
HOSTMETRICS_SCRAPERS: Tuple[str, ...] = ("cpu", "memory", "disk", "filesystem", "network", "load", "paging",
                                         "processes")
HOSTMETRICS_ALL_SCRAPERS: Tuple[str, ...] = HOSTMETRICS_SCRAPERS + ("process", "system", "nfs")
# Filesystems that are not disks (their series say nothing about free space and multiply with every
# container's mounts): left out of the filesystem scraper. Mount points under these prefixes likewise.
HOSTMETRICS_VIRTUAL_FS_TYPES: Tuple[str, ...] = (
    "autofs", "binfmt_misc", "bpf", "cgroup", "cgroup2", "configfs", "debugfs", "devpts", "devtmpfs", "fusectl",
    "hugetlbfs", "mqueue", "nsfs", "overlay", "proc", "procfs", "pstore", "rpc_pipefs", "securityfs", "selinuxfs",
    "squashfs", "sysfs", "tracefs", "tmpfs")
HOSTMETRICS_EXCLUDED_MOUNT_POINTS: Tuple[str, ...] = (
    "/dev/*", "/proc/*", "/sys/*", "/run/*", "/var/lib/docker/*", "/var/lib/containerd/*", "/var/lib/kubelet/*",
    "/snap/*")

# filelog: how each line is parsed (pkg/stanza operators, v0.159.0). `container` is the container
# runtimes' log format (Docker's JSON, CRI-O's and containerd's CRI), read as Kubernetes writes it.
FILELOG_FORMATS: Dict[str, str] = {"json": "json_parser", "regex": "regex_parser", "syslog": "syslog_parser",
                                   "container": "container"}
FILELOG_START_AT: Tuple[str, ...] = ("end", "beginning")
SYSLOG_PROTOCOLS: Tuple[str, ...] = ("rfc3164", "rfc5424")
# What filelog does when a file shrinks under it (copy-truncate rotation): read it again from the start
# (nothing lost; lines written before the copy may be read twice), or the receiver's own default.
FILELOG_ON_TRUNCATE: Tuple[str, ...] = ("ignore", "read_whole_file", "read_new")

# journald priorities, most to least severe (journalctl --priority).
JOURNALD_PRIORITIES: Tuple[str, ...] = ("emerg", "alert", "crit", "err", "warning", "notice", "info", "debug")

# resourcedetection: the detectors a spec may name. `system` reads the host's own name and OS (with
# hostname_sources [os]: the name the kernel gives, no DNS lookup), `env` OTEL_RESOURCE_ATTRIBUTES.
# Cloud detectors ask metadata services that only exist in their clouds.
RESOURCE_DETECTORS: Tuple[str, ...] = ("system", "env")


# Kubernetes (spec.kubernetes): an agent runs on every node (a DaemonSet) and
# tags the data of the pods on its node with the k8sattributes processor; a
# gateway (a StatefulSet behind a Service) receives from the agents.
KUBERNETES_ROLES: Tuple[str, ...] = ("agent", "gateway")

# The environment variable an agent reads its node's name from (the downward
# API's spec.nodeName), and the metadata it extracts, unless the spec says otherwise.
KUBERNETES_NODE_NAME_ENV = "K8S_NODE_NAME"

# The downward API fields a collector pod gets as environment variables of these
# names wherever its configuration reads them (${env:NAME}).
NODE_NAME_FIELD = "spec.nodeName"
NODE_IP_FIELD = "status.hostIP"
DOWNWARD_API_ENV: Dict[str, str] = {
    KUBERNETES_NODE_NAME_ENV: NODE_NAME_FIELD,
    "K8S_NODE_IP": NODE_IP_FIELD,
    "K8S_POD_NAME": "metadata.name",
    "K8S_POD_NAMESPACE": "metadata.namespace",
    "K8S_POD_IP": "status.podIP",
    # A StatefulSet pod's number (Kubernetes 1.28 and later label every such pod with it).
    "K8S_POD_INDEX": "metadata.labels['apps.kubernetes.io/pod-index']",
}
# An environment variable name the way a shell (and every collector image) reads it.
ENV_NAME_PATTERN = r"[A-Za-z_][A-Za-z0-9_]*"
# A reference the collector expands from its environment when it loads its configuration:
# ${env:NAME}, the name in group 1.
ENV_REFERENCE_PATTERN = r"\$\{env:(" + ENV_NAME_PATTERN + r")\}"
# Where Kubernetes mounts a pod's service account token and the cluster's CA.
SERVICE_ACCOUNT_TOKEN_FILE = "/var/run/secrets/kubernetes.io/serviceaccount/token"
SERVICE_ACCOUNT_CA_FILE = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"
KUBERNETES_AGENT_METADATA: Tuple[str, ...] = (
    "k8s.pod.name", "k8s.pod.uid", "k8s.namespace.name", "k8s.deployment.name", "k8s.node.name",
    "k8s.pod.start_time",
)

# Every key k8sattributes accepts in extract.metadata: Config.Validate in
# processor/k8sattributesprocessor/config.go, v0.159.0 (another key makes the
# collector refuse the config: "is not a supported metadata field").
K8S_ATTRIBUTES_METADATA_KEYS: Tuple[str, ...] = (
    "k8s.namespace.name", "k8s.pod.name", "k8s.pod.uid", "k8s.pod.hostname", "k8s.pod.start_time", "k8s.pod.ip",
    "k8s.deployment.name", "k8s.deployment.uid", "k8s.replicaset.name", "k8s.replicaset.uid",
    "k8s.daemonset.name", "k8s.daemonset.uid", "k8s.statefulset.name", "k8s.statefulset.uid",
    "k8s.job.name", "k8s.job.uid", "k8s.cronjob.name", "k8s.cronjob.uid", "k8s.node.name", "k8s.node.uid",
    "k8s.container.name", "container.id", "container.image.name", "container.image.tag", "container.image.tags",
    "container.image.repo_digests", "service.namespace", "service.name", "service.version",
    "service.instance.id", "k8s.cluster.uid",
)


def format_version(version: Version) -> str:
    """A version tuple as text: (0, 159, 0) -> '0.159.0'."""
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
    """True from the version on that exporters batch in their sending queue."""
    return version >= EXPORTER_BATCHING_VERSION


def component_type(component_id: str) -> str:
    """The type part of a component id: 'attributes/scrub' -> 'attributes'."""
    return component_id.split("/", 1)[0]


def component_name(component_id: str) -> str:
    """The name part of a component id: 'attributes/scrub' -> 'scrub'; '' for an id without one."""
    return component_id.split("/", 1)[1] if "/" in component_id else ""


def component_id_of(type_name: str, name: str) -> str:
    """A component id from its type and name: ('otlp_grpc', 'jaeger') -> 'otlp_grpc/jaeger'; the type alone without a name."""
    return f"{type_name}/{name}" if name else type_name


def backend_protocol(backend: BackendSpec) -> Optional[BackendProtocol]:
    """The BACKEND_TYPES row for the backend's protocol; None for debug (no network)."""
    return BACKEND_TYPES[backend.type].protocols.get(backend.protocol)


def has_remote_write_queue(backend: BackendSpec) -> bool:
    """prometheusremotewrite has its own queue (remote_write_queue) instead of exporterhelper's sending_queue."""
    protocol = backend_protocol(backend)
    return protocol is not None and protocol.exporter == "prometheusremotewrite"


def persistent_queue_applies(spec: Spec, backend: BackendSpec) -> bool:
    """True when a backend's queue is kept on disk."""
    if spec.persistent_queue_directory is None or backend.persistent is False:
        return False
    # remote_write_queue has no storage support.
    return not has_remote_write_queue(backend)


def disk_queued_backends(spec: Spec, pipeline: PipelineSpec) -> Set[str]:
    """The backends a pipeline exports to whose queues are on disk (a debug backend keeps none)."""
    return {name for name in pipeline.exporters
            if name in spec.backends and persistent_queue_applies(spec, spec.backends[name])
            and backend_protocol(spec.backends[name]) is not None}


def intake_pipelines(spec: Spec) -> List[str]:
    """The pipelines that take data in through one disk queue of their own, the intake, in spec order.

    A pipeline that hands each request to several consumers (exporters, connectors) while one of
    them may refuse it would, on that refusal, make the sender resend to all, and the others would
    count or store it twice. So where a pipeline fans out and a disk queue is among its consumers,
    the request waits in the intake's queue instead, which alone refuses (when full), and the
    queues behind it wait for room rather than refuse. A pipeline that exports to a backend whose
    queues wait (an exporter's queue settings serve every signal it exports) gets an intake too:
    else that backend would keep its sender waiting instead of refusing it.
    """
    if spec.persistent_queue_intake is None:
        return []
    waiting: Set[str] = set()
    chosen: Set[str] = set()
    changed = True
    while changed:
        changed = False
        for pipeline_id, pipeline in spec.pipelines.items():
            backends = disk_queued_backends(spec, pipeline)
            if pipeline_id in chosen or not backends:
                continue
            if len(pipeline.exporters) > 1 or backends & waiting:
                chosen.add(pipeline_id)
                waiting |= backends
                changed = True
    return [pipeline_id for pipeline_id in spec.pipelines if pipeline_id in chosen]


def intake_addresses(spec: Spec) -> Dict[str, ListenAddress]:
    """Where each intake listens, by pipeline: spec.persistent_queue.intake_address, one port up for each next one."""
    address = spec.persistent_queue_intake
    if address is None:
        return {}
    return {pipeline_id: ListenAddress(address.host, address.port + index, address.path)
            for index, pipeline_id in enumerate(intake_pipelines(spec))}


def waiting_backends(spec: Spec) -> Set[str]:
    """The backends whose disk queues sit behind an intake: full, they wait for room instead of refusing."""
    return {name for pipeline_id in intake_pipelines(spec)
            for name in disk_queued_backends(spec, spec.pipelines[pipeline_id])}


def disk_queue_count(spec: Spec) -> int:
    """How many queues the collector keeps on disk: one per backend and signal it exports (the
    exporter helper opens a queue for each signal an exporter serves), and each intake's; a debug
    backend has none."""
    queues = set()
    for pipeline in spec.pipelines.values():
        queues |= {(name, pipeline.signal) for name in disk_queued_backends(spec, pipeline)}
    return len(queues) + len(intake_pipelines(spec))


def disk_queue_share_bytes(spec: Spec) -> Optional[int]:
    """Each disk queue's bound in bytes: spec.persistent_queue.max_mib shared evenly by the
    queues on disk (one per backend and signal); None where the queues count requests."""
    if spec.persistent_queue_max_mib is None:
        return None
    return spec.persistent_queue_max_mib * MIB // max(disk_queue_count(spec), 1)


# How a load-balanced backend's exporter picks the collector for each item, per signal: a trace
# whole to one collector (tail sampling, span metrics and the service graph need all its spans);
# metrics and logs by their resource (one pod's or host's series stay together). Upstream's
# default for metrics, `service`, refuses data without service.name (host metrics have none).
LOAD_BALANCING_ROUTING: Dict[str, str] = {"traces": "traceID", "metrics": "resource", "logs": "resource"}


def backend_exporter_type(backend: BackendSpec, version: Version) -> str:
    """The type of a backend's exporter, named for the target version."""
    protocol = backend_protocol(backend)
    old_type = "loadbalancing" if backend.load_balancing is not None else \
        protocol.exporter if protocol is not None else "debug"
    return versioned_type("exporters", old_type, version)


def backend_exporter_id(backend: BackendSpec, version: Version, signal: str = "") -> str:
    """The id of a backend's exporter in the rendered config, named for the target version. A
    load-balanced backend has one exporter per signal (each signal routes by its own key)."""
    suffix = f"_{signal}" if backend.load_balancing is not None else ""
    return f"{backend_exporter_type(backend, version)}/{backend.name}{suffix}"


def k8s_attributes_id(version: Version) -> str:
    """The id of the agent's k8sattributes processor, named for the target version."""
    return versioned_type("processors", "k8sattributes", version)


def resource_detection_id(version: Version) -> str:
    """The id of the resourcedetection processor, named for the target version."""
    return versioned_type("processors", "resourcedetection", version)


def is_k8s_attributes(processor_id: str) -> bool:
    """True for the id of a k8sattributes processor, under either type name ('k8sattributes/x', 'k8s_attributes')."""
    return canonical_type("processors", component_type(processor_id)) == "k8sattributes"


def rendered_component_id(kind: str, component_id: str, old_type: str, version: Version) -> str:
    """A spec component's id in the rendered config: the spec's name, the version's type name."""
    return component_id_of(versioned_type(kind, old_type, version), component_name(component_id))


def connector_rendered_id(connector: ConnectorSpec, version: Version) -> str:
    """The connector id in the rendered config."""
    return rendered_component_id("connectors", connector.component_id, connector.type, version)
