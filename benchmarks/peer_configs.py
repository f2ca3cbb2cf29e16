"""Peers' collector configs, as their projects publish them, beside ours in the throughput benchmark.

benchmarks/peers/<name>.yaml holds each peer's config as published; its header
names the repository, tag, file and licence it came from. The throughput
benchmark runs each one's traces path on the same binary, load and sink as the
stack's rendered config (benchmarks/collector_throughput.py). Changed for the
benchmark, and only this: the OTLP receiver listens on the benchmark's loopback
port; every exporter on the traces path becomes an OTLP gRPC exporter to the
sink that keeps the peer's own queue and retry settings (its type's queue and
retry are the same exporter helper); the pipelines that do not start from the
OTLP receiver's traces, and what only they use, are left out; the telemetry is
the benchmark's.

What a peer's config loses in a backend outage is read from the config, not
measured (the reliability scenario measures ours, and a control with the
exporter helper's default cap, tests/molecule/reliability): the exporter
helper's defaults, as upstream documents them in
open-telemetry/opentelemetry-collector exporter/exporterhelper/README.md, are a
queue in memory, retries on, and `max_elapsed_time` 300 s, after which a request
is dropped ("If set to 0, the retries are never stopped").
"""
from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any, Dict, List

import yaml

Config = Dict[str, Any]

PEERS_DIR = Path(__file__).resolve().parent / "peers"
PEER_PREFIX = "peer: "
# The exporter helper's default cap on one request's retries (exporter/exporterhelper/README.md).
DEFAULT_MAX_ELAPSED_S = 300.0
SHORT_OUTAGE_S = 60
LONG_OUTAGE_S = 420
DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h)$")
UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def load_peers(folder: Path = PEERS_DIR) -> Dict[str, Config]:
    """Each peer's config by its file's name (without .yaml), in name order."""
    return {path.stem: yaml.safe_load(path.read_text()) for path in sorted(folder.glob("*.yaml"))}


def component_type(name: str) -> str:
    return name.split("/", 1)[0]


def seconds(value: Any) -> float:
    """A collector duration ("300s", "5m", 0) in seconds."""
    if isinstance(value, (int, float)):
        return float(value)
    match = DURATION.match(str(value).strip())
    if not match:
        raise ValueError(f"not a duration: {value!r}")
    return float(match.group(1)) * UNIT_S[match.group(2)]


def traces_pipelines(config: Config) -> List[str]:
    """The pipelines that take traces from an OTLP receiver."""
    return [name for name, pipeline in config["service"]["pipelines"].items()
            if component_type(name) == "traces"
            and any(component_type(receiver) == "otlp" for receiver in pipeline.get("receivers", []))]


def traces_path(config: Config) -> Dict[str, Config]:
    """The pipelines the OTLP receiver's traces reach: its traces pipelines and, through
    connectors, every pipeline downstream of them."""
    pipelines = config["service"]["pipelines"]
    connectors = set(config.get("connectors", {}))
    kept = {name: pipelines[name] for name in traces_pipelines(config)}
    grown = True
    while grown:
        fed = {exporter for pipeline in kept.values() for exporter in pipeline.get("exporters", [])} & connectors
        more = {name: pipeline for name, pipeline in pipelines.items()
                if name not in kept and set(pipeline.get("receivers", [])) & fed}
        kept.update(more)
        grown = bool(more)
    if not kept:
        raise ValueError("no traces pipeline takes an OTLP receiver's data")
    return kept


# Exporter types that send OTLP over HTTP (new name and old); every other one becomes OTLP gRPC.
HTTP_EXPORTERS = ("otlp_http", "otlphttp")
# Exporter types that send nowhere (the Helm chart's default): no backend, so no outage to lose data in.
NO_BACKEND = ("debug", "nop")


def bench_exporter(name: str, settings: Config, sink_grpc: str, sink_http: str) -> tuple[str, Config]:
    """A peer's exporter pointed at the sink: OTLP over HTTP stays OTLP over HTTP, anything else becomes
    OTLP gRPC; the peer's queue, retry and compression settings kept."""
    http = component_type(name) in HTTP_EXPORTERS
    kept = {key: copy.deepcopy(settings[key]) for key in ("sending_queue", "retry_on_failure", "compression")
            if key in settings}
    suffix = name.split("/", 1)[1] if "/" in name else component_type(name)
    return (f"otlp_http/{suffix}" if http else f"otlp_grpc/{suffix}",
            {"endpoint": sink_http if http else sink_grpc, **({} if http else {"tls": {"insecure": True}}), **kept})


def bench_config(peer: Config, otlp_endpoint: str, sink_grpc: str, sink_http: str, telemetry: Config) -> Config:
    """The peer's traces path as the benchmark runs it (see the module's docstring)."""
    pipelines = copy.deepcopy(traces_path(peer))
    connectors = set(peer.get("connectors") or {})
    exporters: Config = {}
    renamed: Dict[str, str] = {}
    for pipeline in pipelines.values():
        pipeline["receivers"] = list(dict.fromkeys(
            "otlp" if component_type(name) == "otlp" else name for name in pipeline["receivers"]
            if component_type(name) == "otlp" or name in connectors))
        for name in pipeline.get("exporters", []):
            if name not in connectors and name not in renamed:
                renamed[name], settings = bench_exporter(name, (peer.get("exporters") or {}).get(name) or {},
                                                         sink_grpc, sink_http)
                exporters[renamed[name]] = settings
        pipeline["exporters"] = list(dict.fromkeys(renamed.get(name, name) for name in pipeline.get("exporters", [])))
    used = {name for pipeline in pipelines.values()
            for kind in ("processors", "exporters", "receivers") for name in pipeline.get(kind, [])}
    config: Config = {"receivers": {"otlp": {"protocols": {"grpc": {"endpoint": otlp_endpoint}}}},
                      "exporters": exporters,
                      "service": {"pipelines": pipelines, "telemetry": copy.deepcopy(telemetry)}}
    for section in ("processors", "connectors"):
        kept = {name: copy.deepcopy(settings) for name, settings in (peer.get(section) or {}).items() if name in used}
        if kept:
            config[section] = kept
    return config


def outage_losses(config: Config) -> Dict[str, str]:
    """What the config's traces path loses in a 60-second and a 7-minute backend outage, read
    from its exporters' queue and retry settings (the exporter helper's defaults where unset)."""
    connectors = set(config.get("connectors", {}))
    names = {name for pipeline in traces_path(config).values() for name in pipeline.get("exporters", [])
             if name not in connectors}
    losses = {}
    for outage in (SHORT_OUTAGE_S, LONG_OUTAGE_S):
        findings = set()
        for name in sorted(names):
            settings = (config.get("exporters") or {}).get(name) or {}
            if component_type(name) in NO_BACKEND:
                findings.add(f"no backend to lose data in ({component_type(name)} exporter)")
                continue
            queue = settings.get("sending_queue") or {}
            retry = settings.get("retry_on_failure") or {}
            if queue.get("enabled", True) is False or retry.get("enabled", True) is False:
                findings.add("every request that fails (no queue or no retries)")
                continue
            cap = seconds(retry.get("max_elapsed_time", DEFAULT_MAX_ELAPSED_S))
            if cap and cap < outage:
                findings.add(f"what waits longer than its {cap:.0f} s retry cap")
            if not queue.get("storage"):
                findings.add("the queue in memory, if the collector restarts")
        losses[f"{outage}s"] = "; ".join(sorted(findings)) or "nothing"
    return losses
