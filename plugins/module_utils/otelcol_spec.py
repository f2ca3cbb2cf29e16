# -*- coding: utf-8 -*-
# Copyright: observability.lgtm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The typed spec of the otelcol_config filter: the values every stage passes on.

``SpecError`` is a spec problem phrased for the user, path first. The dataclasses
are what the read stage returns and what lint and render consume; no stage
changes them after reading.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import re
from typing import Any, Callable, Dict, List, Optional, Set, Tuple, TypeVar

Version = Tuple[int, int, int]
Config = Dict[str, Any]
T = TypeVar("T")


class SpecError(Exception):
    """One or more spec problems, each already phrased for the user (path first)."""

    def __init__(self, *problems: str) -> None:
        super().__init__(problems[0] if problems else "invalid spec")
        self.problems: List[str] = list(problems) or ["invalid spec"]


class Problems:
    """Collects spec problems so that a reader goes on after one and reports them all."""

    def __init__(self) -> None:
        self.items: List[str] = []

    def add(self, problem: str) -> None:
        """Record one problem."""
        self.items.append(problem)

    def attempt(self, function: Callable[..., T], *args: Any, default: Any = None, **kwargs: Any) -> Any:
        """Call a reader; on SpecError record its problems and return default instead."""
        try:
            return function(*args, **kwargs)
        except SpecError as error:
            self.items.extend(error.problems)
            return default

    def raise_if_any(self) -> None:
        """Raise every recorded problem at once, if there is one."""
        if self.items:
            raise SpecError(*self.items)


def problem_sort_key(problem: str) -> Tuple[Tuple[int, Any], ...]:
    """Sort problems by their path (the text before ': '), list indexes in numeric order."""
    path = problem.split(": ", 1)[0]
    return tuple((0, int(token)) if token.isdigit() else (1, token) for token in re.split(r"([0-9]+)", path))


def sorted_problems(problems: List[str]) -> List[str]:
    """Problems without repeats, sorted by path."""
    return sorted(dict.fromkeys(problems), key=problem_sort_key)


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


@dataclass
class MemorySpec:
    limit_mib: int
    spike_limit_mib: int
    check_interval: str
    # The memory the collector may use at all (host_mib, or the limit's 100/80):
    # the service's hard cap (systemd MemoryMax, a container's limit).
    budget_mib: int = 0

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
class LoadBalancingSpec:
    """backends.<name>.load_balancing: send to several collectors, each trace whole to one of them
    (the load_balancing exporter). ``dns``: a name whose every address is a collector (a
    Kubernetes headless Service), with the port; ``static``: the collectors' "host:port"s."""

    dns: Optional[str] = None
    static: List[str] = field(default_factory=list)
    # How often the dns name is resolved again (upstream's default).
    interval: str = "5s"


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
    load_balancing: Optional[LoadBalancingSpec] = None


@dataclass
class HostMetricsSpec:
    """receivers.hostmetrics: the host's own metrics."""

    collection_interval: str = "30s"
    scrapers: List[str] = field(default_factory=list)
    # Where the host's root is mounted when the collector runs in a container ("/hostfs"); None on the host.
    root_path: Optional[str] = None


@dataclass
class FileLogSpec:
    """receivers.filelog: log files on the host, read line by line, the read offsets kept on disk."""

    include: List[str]
    offsets_directory: str
    exclude: List[str] = field(default_factory=list)
    start_at: str = "end"
    format: str = "plain"
    regex: Optional[str] = None
    syslog_protocol: str = "rfc3164"
    # One of the two, or neither: {"line_start_pattern": ...} or {"line_end_pattern": ...}.
    multiline: Dict[str, str] = field(default_factory=dict)
    on_truncate: str = "read_whole_file"


@dataclass
class JournaldSpec:
    """receivers.journald: the systemd journal, read through journalctl."""

    units: List[str] = field(default_factory=list)
    priority: str = "info"
    directory: Optional[str] = None
    start_at: str = "end"
    offsets_directory: Optional[str] = None


@dataclass
class ReceiverSpec:
    component_id: str
    type: str
    path: str
    grpc: Optional[ListenAddress] = None
    http: Optional[ListenAddress] = None
    tls: Optional[TlsSpec] = None
    # Bearer tokens a client must send (Authorization: Bearer <token>); empty: no authentication.
    bearer_tokens: List[str] = field(default_factory=list)
    scrape_configs: List[Config] = field(default_factory=list)
    host_metrics: Optional[HostMetricsSpec] = None
    file_log: Optional[FileLogSpec] = None
    journald: Optional[JournaldSpec] = None

    @property
    def offsets_directory(self) -> Optional[str]:
        """Where a log receiver keeps its read offsets (None: nowhere, or not a log receiver)."""
        if self.file_log is not None:
            return self.file_log.offsets_directory or None
        if self.journald is not None:
            return self.journald.offsets_directory
        return None


@dataclass
class ResourceDetectionSpec:
    """spec.resource_detection: what the collector finds out about its own host and adds to every signal."""

    detectors: List[str]
    # Whether detected values replace ones the data already carries (an app's own host.name, say).
    override: bool = False
    timeout: str = "2s"
    # The pipelines it runs in; None: every pipeline. (A gateway that also reads its own host tags only
    # that data: what agents and applications send it comes from other hosts.)
    pipelines: Optional[List[str]] = None

    def applies_to(self, pipeline_id: str) -> bool:
        """Whether the pipeline runs resource detection."""
        return self.pipelines is None or pipeline_id in self.pipelines


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
class KubernetesSpec:
    """spec.kubernetes: the collector's role on a cluster; an agent also says what k8sattributes does."""

    role: str  # "agent" or "gateway"
    path: str
    node_name_env: Optional[str] = None  # agent only: the variable holding the node's name
    metadata: List[str] = field(default_factory=list)  # agent only: the k8sattributes extract.metadata
    storage_mib: Optional[int] = None  # gateway only: its claim (storage_size), in MiB
    node_data: bool = False  # agent only: its data folder lives on its node, so it outlives the pod


@dataclass
class BatchSpec:
    flush_timeout: str
    sizer: str  # "bytes" or "items": what min_size and max_size count
    min_size: int
    max_size: int  # 0: no limit


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
    # The collector build's component types (an otelcol_distribution.Distribution).
    distribution: Any = None
    # The collector's role on Kubernetes; None for a plain host collector.
    kubernetes: Optional[KubernetesSpec] = None
    # What the collector adds about its own host to every signal; None: nothing.
    resource_detection: Optional[ResourceDetectionSpec] = None
    # The disk queue's bound in MiB, all exporters' queues together; None: each queue
    # counts requests (a backend's queue_size), as collectors before the bytes sizer do.
    persistent_queue_max_mib: Optional[int] = None
    # Where the first intake listens (loopback; one port up for each further pipeline that takes
    # data in through an intake: otelcol_facts.intake_pipelines); None without a disk queue.
    persistent_queue_intake: Optional[ListenAddress] = None
    # Problems found while reading, and the names of the items that could not be
    # read (lint skips references to them rather than call them undefined).
    problems: List[str] = field(default_factory=list)
    unreadable: Set[str] = field(default_factory=set)
    # Some pipeline could not be read: usage-based lint (unused components,
    # connectors on one side) would be guesswork and is skipped.
    pipelines_incomplete: bool = False

    @property
    def agent(self) -> Optional[KubernetesSpec]:
        """spec.kubernetes when the collector is the Kubernetes agent (it runs k8sattributes), else None."""
        return self.kubernetes if self.kubernetes is not None and self.kubernetes.role == "agent" else None
