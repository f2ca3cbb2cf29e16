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
from typing import Any, Dict, List, Optional, Tuple


Version = Tuple[int, int, int]


Config = Dict[str, Any]


class SpecError(Exception):
    """A spec problem, already phrased for the user (path first)."""


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
