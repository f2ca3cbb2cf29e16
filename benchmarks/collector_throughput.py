"""Collector throughput: the stack's rendered config against a pass-through, same binary, same run.

    python benchmarks/collector_throughput.py [--rounds 3] [--clients 2] [--workers 4] [--traces 25000]

Prints figures (a table, then one JSON line prefixed FIGURES); it asserts nothing
about speed. It fails only when the run itself is unreliable: a config the
collector's `validate` refuses, a process that dies, a span lost or duplicated.

What runs, all on loopback with ephemeral ports in a temporary directory (every
process started here is stopped at the end, on error too):

- the sink: a second collector process (the same lab binary) with OTLP in and
  the `nop` exporter out; its own telemetry (`otelcol_receiver_accepted_spans`)
  says when every span has arrived;
- the collector under test (`lab/mirror.py path otel_collector`), one config at a time:
  * `rendered`: what site.yml installs. `lgtm_stack_collector_spec` from
    playbooks/vars/stack.yml, templated by Ansible with the lab stack's wiring
    (Jaeger, Prometheus, VictoriaLogs) pointed at the sink, with the role's memory
    section for this host (`host_mib`, as the role derives it) and rendered by the
    `otelcol_config` filter at the role's collector version; GOMEMLIMIT from
    `otelcol_gomemlimit`, as the role's unit sets it. Changed for the benchmark,
    and only this: the listeners (OTLP, health_check, telemetry) move to
    ephemeral loopback ports, and `lgtm_stack_scrape_targets` (a variable
    site.yml lets one override) names the collector's own telemetry endpoint and
    the sink's instead of 127.0.0.1:8888 and the backends': the `prometheus/stack`
    scrape jobs (one per target) stay in the config (every 15 s, so at most once or twice in a
    run) and scrape two live endpoints of this run, nothing else on the machine;
  * `pass-through`: OTLP in, the same OTLP gRPC exporter type out to the sink with
    its defaults, no processors, the same telemetry settings;
  * `rendered` with one component taken out of the rendered config, for each
    processor of the traces pipeline, each connector, and the exporters'
    `sending_queue.batch` (since 0.130.0 the filter batches in the exporter, not
    with a batch processor): what each one costs;
  * `~ batch processor ahead of the queue`: the alternative the stack does not
    take, a batch processor (8,192 to 16,384 spans: it counts nothing else) before
    the persistent queue instead of the exporters' batching after it (cheaper per
    span, but a crash loses what the processor holds in memory, and its batches
    are not bounded in bytes);
- the peers' published configs (benchmarks/peers: docker-otel-lgtm's, the grafana.grafana
  collection's collector role example, the OpenTelemetry Helm chart's default), each
  one's traces path with only its listener and sink moved (benchmarks/peer_configs.py),
  printed beside ours with its peak RSS, ours as a share of it, and what it loses in a
  60-second and a 7-minute backend outage, read from its exporters' settings;
- telemetrygen (`lab/mirror.py path telemetrygen`): CLIENTS processes, each with
  WORKERS workers sending TRACES traces of 2 spans (a client span and its server
  child), a fixed count of spans. Its SDK's batch span processor drops spans
  once its queue (2048 by default) is full, so the queue is sized to hold a
  client's whole share (OTEL_BSP_MAX_QUEUE_SIZE) and every span reaches the
  collector. The spans carry the attributes spanmetrics keeps as dimensions.

Each config is started, warmed up with a small load that must reach the sink,
then measured: `wall` from starting the generators until the sink has accepted
every span, `cpu` the user+system time the collector under test used over that
window (/proc/<pid>/stat). spans/s per core = spans / cpu seconds. Configs are
interleaved within each round, in an order rotated every round; a config's
figures are its medians over the rounds, and the ratio and each component's cost
are taken round by round (each against the same round's runs), so the machine's
drift between rounds cancels; min and max show the spread. With two or more CPUs (unless --no-pin) the collector
under test runs alone on the last CPU (taskset; Go then sets GOMAXPROCS=1) and
the sink and generators on the others, so the per-core figure is one core's.
"""
from __future__ import annotations

import argparse
import atexit
import contextlib
import copy
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import yaml

import peer_configs as peers

REPO = Path(__file__).resolve().parents[1]
STACK_VARS = REPO / "playbooks" / "vars" / "stack.yml"
COLLECTOR_DEFAULTS = REPO / "roles" / "otel_collector" / "defaults" / "main.yml"
MIRROR_PY = REPO / "lab" / "mirror.py"

RENDERED = "rendered"
PASS_THROUGH = "pass-through"
# The target: the rendered config keeps at least this share of the pass-through's spans/s per core.
TARGET_RATIO = 0.8
# The lab stack's backends (the default and distributed scenarios).
LAB_BACKENDS = {"traces": "jaeger", "metrics": "prometheus", "logs": "victorialogs"}
# Attributes the demo shop's spans carry, which the stack's spanmetrics keeps as dimensions.
SPAN_ATTRIBUTES = {"http.route": '"/orders"', "http.request.method": '"POST"', "http.response.status_code": "200"}
SPANS_PER_TRACE = 2  # telemetrygen --child-spans 1: a client span and one server child
WARMUP_TRACES = 2000

Config = Dict[str, Any]


class RunFailed(Exception):
    """The benchmark could not measure reliably; the message says why."""


# --- the configs -----------------------------------------------------------------

@dataclass(frozen=True)
class Ports:
    """Every listener of one benchmark run."""
    sink_grpc: int
    sink_http: int
    sink_telemetry: int
    otlp_grpc: int
    otlp_http: int
    health_check: int
    telemetry: int
    hop_grpc: int


def free_port_sets(count: int) -> List[Ports]:
    """count sets of ephemeral loopback ports, all held open until every one is chosen so none
    repeats, within a set or across the sets (processes started later bind them one by one)."""
    fields = len(Ports.__dataclass_fields__)
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _listener in range(fields * count)]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        numbers = [sock.getsockname()[1] for sock in sockets]
    return [Ports(*numbers[index * fields:(index + 1) * fields]) for index in range(count)]


def free_ports() -> Ports:
    """One set of ephemeral loopback ports, none repeated."""
    return free_port_sets(1)[0]


def collector_filters() -> tuple[Callable[..., Config], Callable[..., str]]:
    """The otelcol_config and otelcol_gomemlimit filters of this checkout. When the
    collection is not importable, a private link tree makes this checkout
    ansible_collections.observability.lgtm (never the shared collections link)."""
    try:
        from ansible_collections.observability.lgtm.plugins.filter import otelcol_config as plugin
    except ImportError:
        tree = Path(tempfile.mkdtemp(prefix="lgtm-collection-"))
        link = tree / "ansible_collections" / "observability" / "lgtm"
        link.parent.mkdir(parents=True)
        link.symlink_to(REPO)
        atexit.register(lambda: (link.unlink(), shutil.rmtree(tree)))  # the link first: never into the checkout
        sys.path.insert(0, str(tree))
        from ansible_collections.observability.lgtm.plugins.filter import otelcol_config as plugin
    if REPO not in Path(plugin.__file__).resolve().parents:
        raise RunFailed(f"the otelcol_config filter imported is {plugin.__file__}, not this checkout's ({REPO}): "
                        f"run without PYTHONPATH, or with one that holds this checkout")
    return plugin.otelcol_config, plugin.otelcol_gomemlimit


def plain(data: Any) -> Any:
    """Ansible's templated values as plain Python data (its tagged strings dump badly)."""
    return json.loads(json.dumps(data))


def stack_var(name: str, variables: Dict[str, Any]) -> Any:
    """A variable of playbooks/vars/stack.yml as Ansible templates it for site.yml, beside the
    collector role's defaults (its data folder, say), the given variables winning over both."""
    from ansible.parsing.dataloader import DataLoader
    from ansible.template import Templar, trust_as_template

    def trusted(value: Any) -> Any:  # the vars file is the project's own: trusted, as Ansible trusts it
        if isinstance(value, str):
            return trust_as_template(value)
        if isinstance(value, dict):
            return {key: trusted(item) for key, item in value.items()}
        if isinstance(value, list):
            return [trusted(item) for item in value]
        return value

    templar = Templar(loader=DataLoader(), variables={**trusted(yaml.safe_load(COLLECTOR_DEFAULTS.read_text())),
                                                      **trusted(yaml.safe_load(STACK_VARS.read_text())), **variables})
    return plain(templar.template(trust_as_template("{{ %s }}" % name)))


def stack_spec(ports: Ports) -> Config:
    """lgtm_stack_collector_spec as Ansible templates it for site.yml, with the lab's
    backends at the sink and the scrape job on this run's two telemetry endpoints."""
    sink = {"address": "127.0.0.1"}
    return stack_var("lgtm_stack_collector_spec", {
        "wiring_endpoints": {
            "traces": {**sink, "type": LAB_BACKENDS["traces"], "otlp_grpc_port": ports.sink_grpc},
            "metrics": {**sink, "type": LAB_BACKENDS["metrics"], "port": ports.sink_http},
            "logs": {**sink, "type": LAB_BACKENDS["logs"], "port": ports.sink_http},
            "otel_collector": {"kubernetes": False, "hosts": ["bench-gateway"]},
        },
        # The name a gateway host gives its data (collector.gateway).
        "inventory_hostname": "bench-gateway",
        "lgtm_stack_scrape_targets": {"otel_collector": f"127.0.0.1:{ports.telemetry}",
                                      "sink": f"127.0.0.1:{ports.sink_telemetry}"},
    })


def bench_spec(spec: Config, ports: Ports, host_mib: int, queue_dir: str) -> Config:
    """The role's effective spec ({'memory': ...} combined with the spec), listeners on
    loopback ports, the persistent queue (when the spec has one) in this run's directory."""
    if "persistent_queue" in spec:
        spec = {**spec, "persistent_queue": {**spec["persistent_queue"], "directory": queue_dir,
                                             "intake_address": f"127.0.0.1:{ports.hop_grpc}"}}
    return {"memory": {"host_mib": host_mib}, **spec,
            "receivers": {**spec.get("receivers", {}),
                          "otlp": {"grpc": f"127.0.0.1:{ports.otlp_grpc}", "http": f"127.0.0.1:{ports.otlp_http}"}},
            "extensions": {**spec.get("extensions", {}), "health_check": f"127.0.0.1:{ports.health_check}"},
            "telemetry": {**spec.get("telemetry", {}), "metrics_address": f"127.0.0.1:{ports.telemetry}"}}


def collector_version() -> str:
    return str(yaml.safe_load(COLLECTOR_DEFAULTS.read_text())["otel_collector_version"])


def host_memory_mib() -> int:
    """MemTotal in MiB, what the role reads as ansible_facts.memtotal_mb."""
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) // 1024
    raise RuntimeError("no MemTotal in /proc/meminfo")


def traces_exporter(config: Config) -> str:
    """The traces backend's exporter (not a connector, not the intake): of the pipeline behind the
    traces intake where there is one, else of the traces pipeline."""
    pipelines = config["service"]["pipelines"]
    exporters = [name for name in pipelines.get(fan_out("traces"), pipelines["traces"])["exporters"]
                 if name in config.get("exporters", {})]
    if len(exporters) != 1:
        raise ValueError(f"expected one exporter in the traces pipeline, got {exporters}")
    return exporters[0]


def pass_through_config(rendered: Config, ports: Ports) -> Config:
    """OTLP in, the rendered config's OTLP gRPC exporter type out to the sink with
    that exporter's defaults, no processors; the same telemetry settings."""
    exporter_type = traces_exporter(rendered).split("/")[0]
    return {
        "receivers": {"otlp": {"protocols": {"grpc": {"endpoint": f"127.0.0.1:{ports.otlp_grpc}"}}}},
        "exporters": {f"{exporter_type}/sink": {"endpoint": f"127.0.0.1:{ports.sink_grpc}", "tls": {"insecure": True}}},
        "service": {"pipelines": {"traces": {"receivers": ["otlp"], "exporters": [f"{exporter_type}/sink"]}},
                    "telemetry": copy.deepcopy(rendered["service"]["telemetry"])},
    }


def sink_config(rendered: Config, ports: Ports) -> Config:
    """OTLP in (gRPC, and HTTP on the paths the rendered HTTP exporters post to), nop out."""
    url_paths = {}
    for signal_name, pipeline in rendered["service"]["pipelines"].items():
        for exporter in pipeline["exporters"]:
            endpoint = rendered.get("exporters", {}).get(exporter, {}).get("endpoint", "")
            if endpoint.startswith("http"):
                base = urllib.request.urlparse(endpoint).path.rstrip("/")
                kind = signal_name.split("/")[0]
                url_paths[f"{kind}_url_path"] = f"{base}/v1/{kind}"
    return {
        "receivers": {"otlp": {"protocols": {"grpc": {"endpoint": f"127.0.0.1:{ports.sink_grpc}"},
                                             "http": {"endpoint": f"127.0.0.1:{ports.sink_http}", **url_paths}}}},
        "exporters": {"nop": {}},
        "service": {"pipelines": {kind: {"receivers": ["otlp"], "exporters": ["nop"]}
                                  for kind in ("traces", "metrics", "logs")},
                    "telemetry": {"logs": {"level": "warn"}, "metrics": {"level": "normal", "readers": [
                        {"pull": {"exporter": {"prometheus": {"host": "127.0.0.1", "port": ports.sink_telemetry}}}}]}}},
    }


def without_processor(config: Config, name: str) -> Config:
    out = copy.deepcopy(config)
    for pipeline in out["service"]["pipelines"].values():
        pipeline["processors"] = [item for item in pipeline.get("processors", []) if item != name]
        if not pipeline["processors"]:
            del pipeline["processors"]
    del out["processors"][name]
    if not out["processors"]:
        del out["processors"]
    return out


def without_connector(config: Config, name: str) -> Config:
    out = copy.deepcopy(config)
    for pipeline in out["service"]["pipelines"].values():
        for role in ("receivers", "exporters"):
            pipeline[role] = [item for item in pipeline.get(role, []) if item != name]
    del out["connectors"][name]
    if not out["connectors"]:
        del out["connectors"]
    return out


def without_exporter_batching(config: Config) -> Config:
    out = copy.deepcopy(config)
    for exporter in out.get("exporters", {}).values():
        exporter.get("sending_queue", {}).pop("batch", None)
    return out


def disk_storages(config: Config) -> set:
    """The storage extensions the exporters' queues keep their data in."""
    return {exporter["sending_queue"]["storage"] for exporter in config.get("exporters", {}).values()
            if "storage" in exporter.get("sending_queue", {})}


def without_persistent_queue(config: Config) -> Config:
    """Exporter queues in memory: no storage, and no storage extension left unused."""
    out = copy.deepcopy(config)
    storages = disk_storages(out)
    for exporter in out.get("exporters", {}).values():
        exporter.get("sending_queue", {}).pop("storage", None)
    for storage in storages:
        out.get("extensions", {}).pop(storage, None)
        out["service"]["extensions"] = [name for name in out["service"].get("extensions", []) if name != storage]
    return out


# The alternative measured beside the rendered config (not a "- " variant: it adds as much as it removes).
BATCH_AHEAD_OF_QUEUE = "~ batch processor ahead of the queue"


def with_batch_processor_ahead_of_the_queue(config: Config) -> Config:
    """The exporters' batching (after the persistent queue) replaced by a batch
    processor at the end of every pipeline (before the queue), so the queue stores
    large requests instead of each incoming one. The processor counts spans only: it
    gets the filter's sizes for a batch counted in items (otelcol_facts.BATCH_DEFAULT_SIZES)
    and the exporters' flush timeout."""
    collector_filters()  # this checkout's collection, importable
    from ansible_collections.observability.lgtm.plugins.module_utils.otelcol_facts import BATCH_DEFAULT_SIZES
    out = without_exporter_batching(config)
    batch = next(exporter["sending_queue"]["batch"] for exporter in config["exporters"].values()
                 if "batch" in exporter.get("sending_queue", {}))
    min_size, max_size = BATCH_DEFAULT_SIZES["items"]
    out.setdefault("processors", {})["batch"] = {"send_batch_size": min_size, "send_batch_max_size": max_size,
                                                 "timeout": batch["flush_timeout"]}
    for pipeline in out["service"]["pipelines"].values():
        pipeline["processors"] = [*pipeline.get("processors", []), "batch"]
    return out


# Ways to lower the cost of the disk queue (issue 18), each measured beside the rendered config.
NO_INTAKE = "~ no intake: each exporter's queue refuses"
FSYNC = "~ file_storage fsync on"
NO_COMPRESSION = "~ no compression towards the backends"
ZSTD = "~ zstd towards the backends"
COST_ALTERNATIVES = (NO_INTAKE, FSYNC, NO_COMPRESSION, ZSTD)


def fan_out(pipeline_id: str) -> str:
    """The pipeline the filter puts behind a pipeline's intake, which fans out (site.yml's traces
    pipeline has one): named by the filter's own otelcol_render.fan_out_pipeline_id."""
    collector_filters()  # this checkout's collection, importable
    from ansible_collections.observability.lgtm.plugins.module_utils.otelcol_render import fan_out_pipeline_id
    return fan_out_pipeline_id(pipeline_id)


def without_intake(config: Config) -> Config:
    """The traces pipeline joined again: its receivers and processors, then the fan-out to the
    backend's exporter and the connectors, each exporter's disk queue refusing when full (the
    shape before the intake: a refusal has the sender resend to every consumer)."""
    out = copy.deepcopy(config)
    pipelines = out["service"]["pipelines"]
    behind = pipelines.pop(fan_out("traces"))
    intake_exporter = pipelines["traces"]["exporters"][0]
    pipelines["traces"]["exporters"] = behind["exporters"]
    del out["exporters"][intake_exporter]
    del out["receivers"][behind["receivers"][0]]
    for exporter in out["exporters"].values():
        exporter.get("sending_queue", {}).pop("block_on_overflow", None)
    return out


def with_fsync(config: Config) -> Config:
    """Every disk queue's database synced to disk on each write: what surviving a power cut costs."""
    out = copy.deepcopy(config)
    for storage in disk_storages(out):
        out["extensions"][storage]["fsync"] = True
    return out


def intake_endpoints(config: Config) -> set:
    """Where the config's intakes listen: the receivers of the pipelines behind them."""
    pipelines = config["service"]["pipelines"]
    behind_intakes = {fan_out(pipeline_id) for pipeline_id in pipelines} & pipelines.keys()
    return {protocol["endpoint"] for pipeline_id in behind_intakes
            for receiver in pipelines[pipeline_id]["receivers"]
            for protocol in config["receivers"][receiver]["protocols"].values()}


def with_backend_compression(config: Config, compression: str) -> Config:
    """Every backend exporter's compression set to `compression` (the exporters default to gzip; an
    intake's exporter, on loopback, sends uncompressed)."""
    out = copy.deepcopy(config)
    intakes = intake_endpoints(out)
    for exporter in out.get("exporters", {}).values():
        if "endpoint" in exporter and exporter["endpoint"] not in intakes:
            exporter["compression"] = compression
    return out


def cost_alternatives(rendered: Config) -> Dict[str, Config]:
    """Where exporters queue on disk: no intake ahead of the traces fan-out, the queue synced on
    every write, and the backends' compression off or zstd."""
    if not disk_storages(rendered):
        return {}
    alternatives = {NO_INTAKE: without_intake(rendered)} if fan_out("traces") in rendered["service"]["pipelines"] else {}
    return {**alternatives, FSYNC: with_fsync(rendered),
            NO_COMPRESSION: with_backend_compression(rendered, "none"), ZSTD: with_backend_compression(rendered, "zstd")}


def variants(rendered: Config) -> Dict[str, Config]:
    """The rendered config without one component: each processor of the traces
    pipeline, each connector, exporter batching where an exporter batches, and the
    persistent queue where exporters queue on disk; and, where exporters both batch
    and queue on disk, the alternative of batching ahead of the queue."""
    out = {f"- {name}": without_processor(rendered, name)
           for name in rendered["service"]["pipelines"]["traces"].get("processors", [])}
    out.update({f"- {name}": without_connector(rendered, name) for name in rendered.get("connectors", {})})
    if any("batch" in exporter.get("sending_queue", {}) for exporter in rendered.get("exporters", {}).values()):
        out["- sending_queue.batch"] = without_exporter_batching(rendered)
    if disk_storages(rendered):
        out["- persistent queue"] = without_persistent_queue(rendered)
        if "- sending_queue.batch" in out:
            out[BATCH_AHEAD_OF_QUEUE] = with_batch_processor_ahead_of_the_queue(rendered)
    return out


# --- reading the processes ---------------------------------------------------------

def metric_value(exposition: str, name: str, **labels: str) -> float:
    """The sum of a metric's samples (name or name_total) whose labels include the given ones."""
    total = 0.0
    for line in exposition.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        if "{" in line:
            metric, tail = line.split("{", 1)
            label_text, rest = tail.rsplit("}", 1)
        else:
            metric, rest = line.split(" ", 1)
            label_text = ""
        if metric not in (name, f"{name}_total"):
            continue
        found = dict(item.split("=", 1) for item in split_labels(label_text))
        if all(found.get(key) == json.dumps(value) for key, value in labels.items()):
            total += float(rest.split()[0])
    return total


def split_labels(text: str) -> List[str]:
    """a="x",b="y,z" -> ['a="x"', 'b="y,z"'] (commas inside quoted values kept)."""
    items, current, quoted, escaped = [], "", False, False
    for char in text:
        if char == "," and not quoted:
            items.append(current)
            current = ""
            continue
        current += char
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
    if current:
        items.append(current)
    return items


def peak_rss_kib(status: str) -> int:
    """A process's peak resident set (VmHWM) in KiB, from /proc/<pid>/status."""
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise ValueError("no VmHWM in the process status")


def cpu_seconds(stat: str, ticks_per_second: int) -> float:
    """utime + stime of a /proc/<pid>/stat line (fields 14 and 15; the name in
    field 2 may hold spaces and parentheses, so fields count from its last ')')."""
    fields = stat[stat.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / ticks_per_second


# --- the figures -------------------------------------------------------------------

@dataclass(frozen=True)
class Measurement:
    config: str
    round: int
    spans: int
    wall_s: float
    cpu_s: float
    peak_rss_mib: float = 0.0   # the collector's VmHWM at the end of its run (one process per run)


def spread(values: List[float], digits: int) -> Dict[str, float]:
    return {"median": round(statistics.median(values), digits), "min": round(min(values), digits),
            "max": round(max(values), digits)}


def summarize(measurements: List[Measurement]) -> Dict[str, Dict[str, Any]]:
    """Per config: the median wall and CPU seconds over the rounds and the figures from them."""
    by_config: Dict[str, List[Measurement]] = {}
    for item in measurements:
        by_config.setdefault(item.config, []).append(item)
    summary = {}
    for config, runs in by_config.items():
        spans = runs[0].spans
        if any(run.spans != spans for run in runs):
            raise ValueError(f"{config}: runs of different span counts")
        wall, cpu = statistics.median(r.wall_s for r in runs), statistics.median(r.cpu_s for r in runs)
        per_core = [r.spans / r.cpu_s for r in runs]
        summary[config] = {
            "runs": len(runs), "spans": spans, "wall_s": round(wall, 3), "cpu_s": round(cpu, 3),
            "spans_per_s": round(spans / wall), "spans_per_s_per_core": round(spans / cpu),
            "spans_per_s_per_core_min_max": [round(min(per_core)), round(max(per_core))],
            "cpu_us_per_span": round(cpu / spans * 1e6, 3),
            "peak_rss_mib": round(statistics.median(r.peak_rss_mib for r in runs), 1),
        }
    return summary


def pairs(measurements: List[Measurement], config: str, reference: str) -> List[tuple[Measurement, Measurement]]:
    """(config, reference) run in the same round, for every round that has both: a
    round's runs are minutes apart at most, so the machine's drift between rounds cancels."""
    rounds = {(m.config, m.round): m for m in measurements}
    return [(rounds[(config, index)], rounds[(reference, index)]) for index in sorted({m.round for m in measurements})
            if (config, index) in rounds and (reference, index) in rounds]


def ratio(measurements: List[Measurement], config: str = RENDERED) -> Dict[str, float]:
    """A config's spans/s per core as a share of the pass-through's, round by round (the rendered config's by default)."""
    return spread([(passing.cpu_s / passing.spans) / (measured.cpu_s / measured.spans)
                   for measured, passing in pairs(measurements, config, PASS_THROUGH)], 3)


def component_costs(measurements: List[Measurement]) -> Dict[str, Dict[str, Any]]:
    """What each component adds to the rendered config, round by round: CPU µs per
    span (rendered minus rendered-without-it), and the median as a share of the rendered's."""
    rendered = statistics.median(m.cpu_s / m.spans for m in measurements if m.config == RENDERED) * 1e6
    costs = {}
    for name in dict.fromkeys(m.config for m in measurements if m.config.startswith("- ")):
        cost = spread([(full.cpu_s / full.spans - without.cpu_s / without.spans) * 1e6
                       for without, full in pairs(measurements, name, RENDERED)], 3)
        costs[name[2:]] = {"cpu_us_per_span": cost, "share": round(cost["median"] / rendered, 3)}
    return costs


def alternatives_figures(measurements: List[Measurement], summary: Dict[str, Any]) -> Dict[str, Dict[str, Any]]:
    """Each way to lower the disk queue's cost (COST_ALTERNATIVES run): its spans/s per core as a share of
    the pass-through's and its CPU per span over the rendered config's, both round by round."""
    if not {RENDERED, PASS_THROUGH} <= set(summary):
        return {}
    return {name: {"ratio_to_pass_through": ratio(measurements, name), "cpu_us_per_span_over_rendered": spread(
        [(other.cpu_s / other.spans - ours.cpu_s / ours.spans) * 1e6
         for ours, other in pairs(measurements, RENDERED, name)], 3)}
        for name in COST_ALTERNATIVES if name in summary}


def gap(measurements: List[Measurement]) -> Dict[str, float]:
    """CPU µs per span the rendered config takes over the pass-through, round by round."""
    return spread([(rendered.cpu_s / rendered.spans - passing.cpu_s / passing.spans) * 1e6
                   for rendered, passing in pairs(measurements, RENDERED, PASS_THROUGH)], 3)


def report(summary: Dict[str, Dict[str, Any]], paired_ratio: Optional[Dict[str, float]],
           costs: Dict[str, Dict[str, Any]], paired_gap: Optional[Dict[str, float]] = None,
           alternative_ratio: Optional[Dict[str, float]] = None,
           alternatives: Optional[Dict[str, Dict[str, Any]]] = None) -> str:
    width = max([24, *map(len, summary)])
    lines = [f"{'config':{width}} {'spans/s':>8} {'spans/s/core':>12} {'(min-max)':>17} {'CPU us/span':>11} "
             f"{'wall s':>7} {'cpu s':>6}"]
    for name, item in summary.items():
        low, high = item["spans_per_s_per_core_min_max"]
        lines.append(f"{name:{width}} {item['spans_per_s']:>8} {item['spans_per_s_per_core']:>12} "
                     f"{f'({low}-{high})':>17} {item['cpu_us_per_span']:>11.3f} {item['wall_s']:>7.2f} "
                     f"{item['cpu_s']:>6.2f}")
    if paired_ratio:
        lines.append(f"rendered / pass-through, spans/s per core, round by round: median "
                     f"{paired_ratio['median']:.2f} ({paired_ratio['min']:.2f}-{paired_ratio['max']:.2f}); "
                     f"target: >= {TARGET_RATIO:.2f}")
    if alternative_ratio:
        lines.append(f"{BATCH_AHEAD_OF_QUEUE[2:]} (not the stack's: a crash loses what it holds) / pass-through: "
                     f"median {alternative_ratio['median']:.2f} ({alternative_ratio['min']:.2f}-"
                     f"{alternative_ratio['max']:.2f})")
    for name, figures in (alternatives or {}).items():
        to_pass, over = figures["ratio_to_pass_through"], figures["cpu_us_per_span_over_rendered"]
        lines.append(f"{name[2:]} / pass-through: median {to_pass['median']:.2f} ({to_pass['min']:.2f}-"
                     f"{to_pass['max']:.2f}); CPU per span over the rendered's {over['median']:+.3f} us "
                     f"({over['min']:+.3f} to {over['max']:+.3f})")
    if costs:
        lines.append("what each component adds to the rendered config, round by round "
                     "(CPU us per span: median (min to max); median as a share of the rendered's):")
        for name, cost in sorted(costs.items(), key=lambda item: -item[1]["cpu_us_per_span"]["median"]):
            us = cost["cpu_us_per_span"]
            lines.append(f"  {name:22} {us['median']:+7.3f} us ({us['min']:+.3f} to {us['max']:+.3f})  "
                         f"{cost['share']:+7.1%}")
    if paired_gap and costs:
        attributed = sum(cost["cpu_us_per_span"]["median"] for cost in costs.values())
        lines.append(f"rendered over pass-through: {paired_gap['median']:+.3f} us per span "
                     f"({paired_gap['min']:+.3f} to {paired_gap['max']:+.3f}); the components above add up to "
                     f"{attributed:+.3f}, the rest ({paired_gap['median'] - attributed:+.3f}) is no single "
                     f"removed component's")
    return "\n".join(lines)


# --- running -----------------------------------------------------------------------

def http_text(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.read().decode()


def lab_binary(name: str) -> Path:
    path = Path(subprocess.run([sys.executable, str(MIRROR_PY), "path", name], capture_output=True, text=True,
                               check=True).stdout.strip())
    if not path.is_file():
        raise RunFailed(f"{path} is missing: build it with `python lab/mirror.py build {name}`")
    return path


class Lab:
    """The processes of one benchmark: started here, stopped here, on error too."""

    def __init__(self, workdir: Path, collector: Path, telemetrygen: Optional[Path], pin: bool, gomemlimit: str):
        self.workdir, self.collector, self.telemetrygen = workdir, collector, telemetrygen
        self.env = {**os.environ, "GOMEMLIMIT": gomemlimit}
        cpus = sorted(os.sched_getaffinity(0))
        self.pinned = pin and len(cpus) >= 2
        # The collector under test alone on the last CPU; the sink and the generators on the others.
        self.under_test_cpus = [cpus[-1]] if self.pinned else cpus
        self.other_cpus = cpus[:-1] if self.pinned else cpus
        self.processes: List[subprocess.Popen[bytes]] = []

    def __enter__(self) -> "Lab":
        return self

    def __exit__(self, *_exc: object) -> None:
        for proc in reversed(self.processes):
            self.stop(proc)

    def start(self, argv: List[str], log_name: str, cpus: List[int], env: Optional[Dict[str, str]] = None
              ) -> subprocess.Popen[bytes]:
        log = (self.workdir / f"{log_name}.log").open("ab")
        with log:
            proc = subprocess.Popen(["taskset", "-c", ",".join(map(str, cpus)), *argv], stdout=log,
                                    stderr=subprocess.STDOUT, env=env or self.env, start_new_session=True)
        self.processes.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen[bytes]) -> None:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        if proc in self.processes:
            self.processes.remove(proc)

    def log_tail(self, log_name: str, lines: int = 15) -> str:
        path = self.workdir / f"{log_name}.log"
        text = path.read_text(errors="replace").splitlines()[-lines:] if path.exists() else []
        return f"{path}:\n" + "\n".join(text)

    def write_config(self, name: str, config: Config) -> Path:
        # Letters, digits, '.', '_' and '-' only: the collector reads a --config with a ':' in it as a URI.
        path = self.workdir / f"{re.sub(r'[^A-Za-z0-9._-]', '_', name)}.yaml"
        path.write_text(yaml.safe_dump(config, sort_keys=True))
        return path

    def validate(self, name: str, path: Path) -> None:
        result = subprocess.run([str(self.collector), "validate", f"--config={path}"], capture_output=True, text=True,
                                check=False, timeout=120)
        if result.returncode != 0:
            raise RunFailed(f"{name}: `otelcol-contrib validate` refused {path}:\n{result.stdout}{result.stderr}")

    def start_collector(self, name: str, path: Path, telemetry_port: int, otlp_port: int,
                        cpus: List[int]) -> subprocess.Popen[bytes]:
        proc = self.start([str(self.collector), f"--config={path}"], name, cpus)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RunFailed(f"{name}: the collector exited ({proc.returncode}) at start\n{self.log_tail(name)}")
            with contextlib.suppress(OSError):
                http_text(f"http://127.0.0.1:{telemetry_port}/metrics")
                socket.create_connection(("127.0.0.1", otlp_port), timeout=1).close()
                return proc
            time.sleep(0.1)
        raise RunFailed(f"{name}: not ready after 60 s\n{self.log_tail(name)}")

    def send(self, otlp_port: int, clients: int, workers: int, traces: int, log_name: str
             ) -> List[subprocess.Popen[bytes]]:
        """telemetrygen clients; each one's SDK queue holds its whole share, so none is dropped."""
        if self.telemetrygen is None:
            raise RunFailed("this lab was started without telemetrygen")
        queue = workers * traces * SPANS_PER_TRACE
        argv = [str(self.telemetrygen), "traces", "--otlp-endpoint", f"127.0.0.1:{otlp_port}", "--otlp-insecure",
                "--workers", str(workers), "--traces", str(traces), "--child-spans", "1", "--rate", "0",
                "--batch-size", "512"]
        for key, value in SPAN_ATTRIBUTES.items():
            argv += ["--telemetry-attributes", f"{key}={value}"]
        env = {**os.environ, "OTEL_BSP_MAX_QUEUE_SIZE": str(queue)}
        return [self.start(argv, log_name, self.other_cpus, env) for _client in range(clients)]


def sink_accepted(ports: Ports) -> int:
    return int(metric_value(http_text(f"http://127.0.0.1:{ports.sink_telemetry}/metrics"),
                            "otelcol_receiver_accepted_spans", receiver="otlp"))


def wait_for_sink(lab: Lab, ports: Ports, target: int, collector: subprocess.Popen[bytes],
                  generators: List[subprocess.Popen[bytes]], name: str, timeout: float) -> None:
    """Until the sink has accepted `target` spans; the collector exiting or a generator failing stops it."""
    deadline = time.monotonic() + timeout
    while sink_accepted(ports) < target:
        if collector.poll() is not None:
            raise RunFailed(f"{name}: the collector exited ({collector.returncode})\n{lab.log_tail(name)}")
        if any(proc.poll() not in (None, 0) for proc in generators):
            raise RunFailed(f"{name}: telemetrygen failed\n{lab.log_tail(name + '-telemetrygen')}")
        if time.monotonic() > deadline:
            raise RunFailed(f"{name}: the sink has {sink_accepted(ports)} of {target} spans after {timeout:.0f} s\n"
                            f"{lab.log_tail(name)}")
        time.sleep(0.02)


def collector_received(ports: Ports) -> int:
    return int(metric_value(http_text(f"http://127.0.0.1:{ports.telemetry}/metrics"),
                            "otelcol_receiver_accepted_spans", receiver="otlp"))


def measure(lab: Lab, ports: Ports, name: str, path: Path, round_index: int, args: argparse.Namespace
            ) -> Measurement:
    """One config: start it, warm it up, then time a fixed count of spans through it to the sink."""
    spans = args.clients * args.workers * args.traces * SPANS_PER_TRACE
    warmup_spans = WARMUP_TRACES * SPANS_PER_TRACE
    generator_log = f"{name}-telemetrygen"
    collector = lab.start_collector(name, path, ports.telemetry, ports.otlp_grpc, lab.under_test_cpus)
    try:
        first = sink_accepted(ports)
        warmup = lab.send(ports.otlp_grpc, 1, 1, WARMUP_TRACES, generator_log)
        wait_for_sink(lab, ports, first + warmup_spans, collector, warmup, name, args.timeout)
        before = sink_accepted(ports)
        ticks = os.sysconf("SC_CLK_TCK")
        cpu_start = cpu_seconds(Path(f"/proc/{collector.pid}/stat").read_text(), ticks)
        started = time.monotonic()
        clients = lab.send(ports.otlp_grpc, args.clients, args.workers, args.traces, generator_log)
        wait_for_sink(lab, ports, before + spans, collector, clients, name, args.timeout)
        wall = time.monotonic() - started
        cpu = cpu_seconds(Path(f"/proc/{collector.pid}/stat").read_text(), ticks) - cpu_start
        peak_rss_mib = peak_rss_kib(Path(f"/proc/{collector.pid}/status").read_text()) / 1024
        for proc in [*warmup, *clients]:
            if proc.wait(timeout=args.timeout) != 0:
                raise RunFailed(f"{name}: telemetrygen exited with {proc.returncode}\n{lab.log_tail(generator_log)}")
        received = collector_received(ports)
    finally:
        lab.stop(collector)
    after = sink_accepted(ports)
    if received != warmup_spans + spans or after != before + spans:
        raise RunFailed(f"{name}: the collector received {received} of {warmup_spans + spans} spans sent and the "
                        f"sink {after - before} of {spans} measured: spans were lost or duplicated\n"
                        f"{lab.log_tail(name)}")
    return Measurement(name, round_index, spans, wall, cpu, peak_rss_mib)


def configs(ports: Ports, queue_dir: str = "/tmp/collector-throughput-queue") -> tuple[Dict[str, Config], Config, str]:
    """The configs under test (rendered, pass-through, rendered without each component),
    the sink's, and the GOMEMLIMIT the role would set."""
    otelcol_config, otelcol_gomemlimit = collector_filters()
    spec = bench_spec(stack_spec(ports), ports, host_memory_mib(), queue_dir)
    rendered = plain(otelcol_config(spec, collector_version()))
    under_test = {PASS_THROUGH: pass_through_config(rendered, ports), RENDERED: rendered, **variants(rendered),
                  **cost_alternatives(rendered), **peer_configs_under_test(rendered, ports)}
    return under_test, sink_config(rendered, ports), otelcol_gomemlimit(spec)


def peer_configs_under_test(rendered: Config, ports: Ports) -> Dict[str, Config]:
    """Each peer's published config (benchmarks/peers), its traces path on this run's listeners and sink."""
    return {f"{peers.PEER_PREFIX}{name}": peers.bench_config(
        peer, f"127.0.0.1:{ports.otlp_grpc}", f"127.0.0.1:{ports.sink_grpc}", f"http://127.0.0.1:{ports.sink_http}",
        rendered["service"]["telemetry"]) for name, peer in peers.load_peers().items()}


def peers_table(summary: Dict[str, Dict[str, Any]], measurements: List[Measurement],
                rendered: Config) -> List[Dict[str, Any]]:
    """Ours, the pass-through and each peer: spans/s per core, CPU per span, peak RSS, ours as a share
    of it (spans/s per core, round by round) and what it loses in a 60-second and a 7-minute outage."""
    published = peers.load_peers()
    rows = []
    for name in [RENDERED, *[n for n in summary if n.startswith(peers.PEER_PREFIX)], PASS_THROUGH]:
        if name not in summary:
            continue
        config = published.get(name[len(peers.PEER_PREFIX):]) if name.startswith(peers.PEER_PREFIX) else rendered
        share = None if name == RENDERED else spread(
            [(other.cpu_s / other.spans) / (ours.cpu_s / ours.spans)
             for ours, other in pairs(measurements, RENDERED, name)], 3)
        rows.append({"config": name, **{key: summary[name][key] for key in (
            "spans_per_s", "spans_per_s_per_core", "cpu_us_per_span", "peak_rss_mib")}, "ours_share": share,
            "loses": peers.outage_losses(config) if name != PASS_THROUGH else None})
    return rows


def peers_report(rows: List[Dict[str, Any]]) -> str:
    lines = ["ours beside the peers' published configs (same binary, load and sink; a share is ours / theirs in "
             "spans/s per core, round by round; losses read from each config's exporters):",
             f"  {'config':40} {'spans/s':>8} {'spans/s/core':>12} {'CPU us/span':>11} {'peak RSS MiB':>12} "
             f"{'ours/it':>8}  "
             "loses in a 60 s outage | in a 7-minute one"]
    for row in rows:
        share = f"{row['ours_share']['median']:.2f}" if row["ours_share"] else "-"
        loses = f"{row['loses']['60s']} | {row['loses']['420s']}" if row["loses"] else "- (no backend: a sink)"
        lines.append(f"  {row['config']:40} {row['spans_per_s']:>8} {row['spans_per_s_per_core']:>12} "
                     f"{row['cpu_us_per_span']:>11.3f} "
                     f"{row['peak_rss_mib']:>12.1f} {share:>8}  {loses}")
    return "\n".join(lines)


def rotated(names: List[str], round_index: int) -> List[str]:
    shift = round_index % len(names)
    return names[shift:] + names[:shift]


def run(args: argparse.Namespace) -> Dict[str, Any]:
    ports = free_ports()
    workdir = tempfile.mkdtemp(prefix="collector-throughput-")
    try:
        return run_in(args, ports, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def run_in(args: argparse.Namespace, ports: Ports, workdir: str) -> Dict[str, Any]:
    """One benchmark run in workdir (the collectors' configs and the persistent queue)."""
    queue = Path(workdir) / "queue"
    queue.mkdir()
    under_test, sink, gomemlimit = configs(ports, str(queue))
    if args.only:
        unknown = sorted(set(args.only) - set(under_test))
        if unknown:
            raise RunFailed(f"--only: unknown config(s) {unknown}; choose from {sorted(under_test)}")
        under_test = {name: config for name, config in under_test.items() if name in args.only}
    collector, telemetrygen = lab_binary("otel_collector"), lab_binary("telemetrygen")
    load_before = os.getloadavg()
    with Lab(Path(workdir), collector, telemetrygen, not args.no_pin, gomemlimit) as lab:
        # One copy of the binary for the whole run: a rebuild elsewhere cannot swap it mid-run.
        shutil.copy2(collector, Path(workdir) / "otelcol-contrib")
        lab.collector = Path(workdir) / "otelcol-contrib"
        paths = {name: lab.write_config(name, config) for name, config in under_test.items()}
        sink_path = lab.write_config("sink", sink)
        for name, path in {**paths, "sink": sink_path}.items():
            lab.validate(name, path)
        lab.start_collector("sink", sink_path, ports.sink_telemetry, ports.sink_grpc, lab.other_cpus)
        measurements = []
        for round_index in range(args.rounds):
            for name in rotated(list(paths), round_index):
                measurements.append(measure(lab, ports, name, paths[name], round_index, args))
                print(f"  round {round_index + 1}/{args.rounds} {name}: {measurements[-1].cpu_s:.2f} s CPU, "
                      f"{measurements[-1].wall_s:.2f} s wall", flush=True)
    summary = summarize(measurements)
    return {
        "collector": str(collector), "collector_version": collector_version(), "telemetrygen": str(telemetrygen),
        "spans_per_run": measurements[0].spans, "rounds": args.rounds, "clients": args.clients,
        "workers": args.workers, "pinned": lab.pinned, "collector_cpus": lab.under_test_cpus,
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "configs": summary,
        "ratio_rendered_to_pass_through": ratio(measurements) if {RENDERED, PASS_THROUGH} <= set(summary) else None,
        "ratio_batch_ahead_of_queue_to_pass_through": ratio(measurements, BATCH_AHEAD_OF_QUEUE)
        if {BATCH_AHEAD_OF_QUEUE, PASS_THROUGH} <= set(summary) else None,
        "cost_alternatives": alternatives_figures(measurements, summary),
        "component_costs": component_costs(measurements) if RENDERED in summary else {},
        "rendered_over_pass_through_cpu_us_per_span": gap(measurements)
        if {RENDERED, PASS_THROUGH} <= set(summary) else None,
        "peers": peers_table(summary, measurements, under_test[RENDERED]) if RENDERED in summary else [],
    }


def add_load_options(parser: argparse.ArgumentParser, rounds: int, traces: int, what: str) -> None:
    """The options of a telemetrygen load, shared by the benchmarks that send one."""
    parser.add_argument("--rounds", type=int, default=rounds, help=f"runs of each {what} (default {rounds}; figures are medians)")
    parser.add_argument("--clients", type=int, default=2, help="telemetrygen processes (default 2)")
    parser.add_argument("--workers", type=int, default=4, help="workers per telemetrygen process (default 4)")
    parser.add_argument("--traces", type=int, default=traces,
                        help=f"traces per worker, {SPANS_PER_TRACE} spans each (default {traces})")
    parser.add_argument("--timeout", type=float, default=300, help="seconds one run may take (default 300)")


def figures_of(run_benchmark: Callable[[argparse.Namespace], Dict[str, Any]], args: argparse.Namespace
               ) -> Optional[Dict[str, Any]]:
    """The run's figures, or None after printing why the run could not measure. SIGTERM unwinds
    like Ctrl-C, so every process the run started is stopped."""
    signal.signal(signal.SIGTERM, lambda *_signal: sys.exit(143))
    try:
        return run_benchmark(args)
    except RunFailed as failure:
        print(f"ERROR: {failure}", file=sys.stderr)
        return None


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_load_options(parser, 5, 25000, "config")
    parser.add_argument("--no-pin", action="store_true", help="do not pin the collector under test to its own CPU")
    parser.add_argument("--only", nargs="+", metavar="CONFIG", help="run only these configs (names as printed)")
    args = parser.parse_args(argv)
    figures = figures_of(run, args)
    if figures is None:
        return 1
    pinning = f"pinned to CPU {figures['collector_cpus']}" if figures["pinned"] else "unpinned"
    print(f"collector {figures['collector_version']} ({figures['collector']}), {figures['spans_per_run']} spans a run "
          f"({figures['clients']} telemetrygen x {figures['workers']} workers), median of {figures['rounds']} rounds, "
          f"collector under test {pinning}; load average {figures['load_average_before']} -> "
          f"{figures['load_average_after']}")
    print(report(figures["configs"], figures["ratio_rendered_to_pass_through"], figures["component_costs"],
                 figures["rendered_over_pass_through_cpu_us_per_span"], figures["ratio_batch_ahead_of_queue_to_pass_through"],
                 figures["cost_alternatives"]))
    if figures["peers"]:
        print(peers_report(figures["peers"]))
    print("FIGURES " + json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
