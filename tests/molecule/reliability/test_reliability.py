"""Nothing lost through a backend outage and a collector restart, in numbers.

The lab host runs the collector and the three Apache-licensed backends
(Jaeger, Prometheus, VictoriaLogs), converged by site.yml. telemetrygen runs
on the controller and sends to the host's OTLP gRPC port over the Docker
network (no copy onto the host, and the sender is outside the host whose units
stop and restart). Every run tags its spans, log records and metric points
with a run ID, so only that run is counted, through each backend's own API.

The run, for each collector it sends to:
  1. backends up: send a first share;
  2. stop jaeger, prometheus and victorialogs;
  3. send a second share (it waits in the collector's queue);
  4. restart the collector while the backends are down;
  5. send a third share;
  6. start the backends once the outage has lasted its length since step 2;
  7. wait until the backends hold what the collector was sent less what its own
     exporters report having dropped and less what it held in memory when it
     restarted, or until nothing has changed for longer than
     a collector may wait to reconnect and retry (quiet_after); then count what
     each backend stored, and how many of the stored spans and log records are distinct.
No sending is in flight across the restart itself: what is counted is what the
collector had accepted (telemetrygen exits non-zero on a refused export), so a
loss is the collector's, not the sender's.

One outage of 7 minutes (LGTM_RELIABILITY_LONG_OUTAGE_S), longer than every
timer in the rendered config, sent to three collectors at once: the stack's
own and two controls made from its rendered config. The stack's (site.yml's default, a
persistent queue that retries until the backend takes the data) must store
every item once; the capped control beside it on the same host, the stack's
exporters and disk queue with retries capped at 300 s as every exporter had
them before, must lose data and account for every item it lost among its
exporters' drops: proof that the outage is long enough to catch a timer that
gives up; the queue-off control, the stack's exporters with every timer kept
and the queue in memory, must lose spans in the restart, exactly what its own
counters say it held (accepted, neither delivered nor dropped) when it
restarted, and nothing else.
Then spans of 1 KiB offered while Jaeger is down, to the stack's collector and
to a control whose exporters batch by count as every exporter did before: the
stack's, batched by size within the 4 MiB Jaeger's gRPC receiver takes, stores
every span once; the control's batches pass that limit, Jaeger refuses them and
the control drops them.
Then a disk queue bounded to a few MiB, the logs backend down and more
logs offered than fit: the collector must refuse the rest with a retryable
answer, the sender resends it once the backend is back, and every record is
stored once. Then the same bound with the traces backend down and more spans
offered than fit, to the stack's collector and to a control without the
traces pipeline's intake: both store every span once, the stack's span
metrics count each span once, the control's every attempt. Then the same bound with the queue's directory on a small filesystem that something
else fills: the collector must keep running, refuse what it cannot write with a retryable answer,
take the resends once there is room again, store every record once, and open its queue again after
a restart. Then a burst far above a small memory limit, the queue in memory and the traces backend down:
the senders must see the collector refuse data (back-pressure), and the
collector must stay the same process, never OOM-killed, its anonymous memory
under the unit's MemoryMax. Last, site.yml at -vvv with a backend password in
the spec must not print that password anywhere.
"""
from __future__ import annotations

import base64
import contextlib
import copy
import json
import os
import re
import secrets
import socket
import subprocess
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator

import pytest
import yaml
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span
from lgtm_stack import (REPO, Http, distinct_logs, distinct_spans, failed_tasks, group_host, instant_query, logs_api,
                        logsql_stats, metrics_api, run_span_ids, send_counted, site, stored_counted, telemetrygen,
                        traces_api, unit_properties)

STACK_VARS = REPO / "playbooks" / "vars" / "stack.yml"

RATE = 20                      # spans, log records, metric points a second (telemetrygen --rate, one worker)
SHARE_S = {"before": 5, "outage": 20, "after_restart": 20}   # seconds of sending in each share
# The stack's run: longer than every timer of the rendered config (the longest, the retries' 30 s
# interval, and the 300 s elapsed-time cap the control keeps), 7 minutes by default (issue 18).
LONG_OUTAGE_S = int(os.environ.get("LGTM_RELIABILITY_LONG_OUTAGE_S", "420"))
# How long an exporter may stay silent once the backends are back, before it tries again: the exporter
# helper's retry interval tops out at 30 s plus up to 50 % jitter (retry_on_failure.max_interval,
# randomization_factor 0.5). Over gRPC the channel also waits between reconnects, 1 s growing 1.6 times
# each attempt up to 120 s, each with 20 % jitter (grpc-go's backoff.DefaultConfig): after a long
# outage the traces exporter may not reconnect for 144 s, then retry 45 s later.
RETRY_QUIET_S = 30 * 1.5
GRPC_RECONNECT = {"base_s": 1.0, "multiplier": 1.6, "jitter": 0.2, "max_s": 120.0}
COUNT_MARGIN_S = 10            # a backend's own write and index delay, and one counting round
BACKENDS = ("jaeger", "prometheus", "victorialogs")
STACK_METRICS_PORT = 8888      # the stack collector's own metrics, on loopback
FIGURES: list[str] = []


@pytest.fixture(scope="module")
def lab():
    return group_host("otel_collector")


@pytest.fixture(scope="module")
def address(lab):
    return lab.check_output("hostname -I").split()[0]


# --- sending ------------------------------------------------------------------

def send(address: str, run_id: str, seconds: int, port: int = 4317) -> dict[str, int]:
    """Send RATE items a second of each signal for `seconds`, in parallel; return the counts sent."""
    return send_counted(address, run_id, seconds, RATE, service="reliability", metric="reliability_gen", port=port)


def send_to_each(address: str, runs: dict[str, "Collector"], run_ids: dict[str, str], seconds: int,
                 sent: dict[str, dict[str, int]]) -> None:
    """One share to every collector at once (each its own run ID), added to what each was sent."""
    with ThreadPoolExecutor(max_workers=len(runs)) as pool:
        shares = {mode: pool.submit(send, address, run_ids[mode], seconds, collector.port)
                  for mode, collector in runs.items()}
        for mode, share in shares.items():
            add(sent.setdefault(mode, {}), share.result())


def add(total: dict[str, int], more: dict[str, int]) -> None:
    for signal, count in more.items():
        total[signal] = total.get(signal, 0) + count


def systemctl(lab: Any, action: str, *units: str) -> None:
    lab.check_output("systemctl %s " + " ".join(["%s"] * len(units)), action, *units)


def collector_listening(address: str, seconds: float = 60, port: int = 4317) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((address, port), timeout=1):
                return True
        except OSError:
            time.sleep(0.5)
    return False


# --- counting, through each backend's own API --------------------------------------

def stored(apis: dict[str, Http], run_id: str) -> dict[str, int]:
    return stored_counted(apis, run_id, service="reliability", metric="reliability_gen")


def collector_counters(lab: Any, names: Iterable[str], port: int = STACK_METRICS_PORT) -> dict[str, float]:
    """Each named counter of a collector, summed over its series (0 before its first count), from one
    read of its own metrics on the lab host."""
    script = ("import json, urllib.request; lines = urllib.request.urlopen("
              f"'http://127.0.0.1:{port}/metrics').read().decode().splitlines(); print(json.dumps("
              f"{{name: sum(float(line.rsplit(' ', 1)[1]) for line in lines if line.startswith(name)) "
              f"for name in {list(names)!r}}}))")
    return json.loads(lab.check_output("python3 -c %s", script))


def collector_counter(lab: Any, name: str, port: int = STACK_METRICS_PORT) -> float:
    """One counter of a collector, summed over its series (0 before its first count)."""
    return collector_counters(lab, [name], port)[name]


# Per signal, the exporters' counter of the items they dropped (a request given up after its retries).
DROPPED_COUNTERS = {"traces": "otelcol_exporter_send_failed_spans", "logs": "otelcol_exporter_send_failed_log_records",
                    "metrics": "otelcol_exporter_send_failed_metric_points"}


def dropped(lab: Any, metrics_port: int) -> dict[str, int]:
    """What a collector's exporters report having dropped, per signal, since it last started."""
    counts = collector_counters(lab, DROPPED_COUNTERS.values(), metrics_port)
    return {signal: int(counts[name]) for signal, name in DROPPED_COUNTERS.items()}


# Per signal, what the receivers accepted and what the exporters delivered.
ACCEPTED_COUNTERS = {"traces": "otelcol_receiver_accepted_spans", "logs": "otelcol_receiver_accepted_log_records",
                     "metrics": "otelcol_receiver_accepted_metric_points"}
SENT_COUNTERS = {"traces": "otelcol_exporter_sent_spans", "logs": "otelcol_exporter_sent_log_records",
                 "metrics": "otelcol_exporter_sent_metric_points"}


def held(lab: Any, metrics_port: int) -> dict[str, int]:
    """What a collector holds, per signal: accepted, and neither delivered nor dropped yet."""
    counts = collector_counters(lab, [*ACCEPTED_COUNTERS.values(), *SENT_COUNTERS.values(),
                                      *DROPPED_COUNTERS.values()], metrics_port)
    return {signal: int(counts[ACCEPTED_COUNTERS[signal]] - counts[SENT_COUNTERS[signal]]
                        - counts[DROPPED_COUNTERS[signal]]) for signal in ACCEPTED_COUNTERS}


def grpc_reconnect_gap_s(outage_s: float) -> float:
    """The longest wait for a gRPC channel's next reconnect after an outage of outage_s: every earlier
    attempt came at least (1 - jitter) times its backoff after the one before it."""
    attempt, elapsed = 0, 0.0
    while True:
        backoff = min(GRPC_RECONNECT["max_s"], GRPC_RECONNECT["base_s"] * GRPC_RECONNECT["multiplier"] ** attempt)
        if elapsed + backoff * (1 - GRPC_RECONNECT["jitter"]) > outage_s or backoff == GRPC_RECONNECT["max_s"]:
            return backoff * (1 + GRPC_RECONNECT["jitter"])
        elapsed += backoff * (1 - GRPC_RECONNECT["jitter"])
        attempt += 1


def quiet_after(outage_s: float) -> float:
    """How long counts may stay unchanged, the backends up again after an outage of outage_s, before
    they are final: the longest a collector may wait to reconnect and then to retry."""
    return grpc_reconnect_gap_s(outage_s) + RETRY_QUIET_S + COUNT_MARGIN_S


def drained(count: Callable[[], dict[str, Any]], accounted: Callable[[], dict[str, Any]],
            quiet_s: float) -> tuple[dict[str, Any], dict[str, float]]:
    """Count every mode's run until its counts equal what accounted() says it should hold, or have not
    changed for quiet_s; the last counts and, per mode, the seconds until its counts last changed."""
    started = time.monotonic()
    counts = count()
    changed = {mode: started for mode in counts}
    while any(counts[mode] != expected and time.monotonic() - changed[mode] < quiet_s
              for mode, expected in accounted().items()):
        time.sleep(3)
        before, counts = counts, count()
        changed.update({mode: time.monotonic() for mode in counts if counts[mode] != before[mode]})
    return counts, {mode: changed[mode] - started for mode in counts}


# --- the collectors of a run ----------------------------------------------------------

@dataclass(frozen=True)
class Collector:
    """A collector on the lab host that a run sends to: its systemd unit, OTLP gRPC port, the
    loopback port of its own metrics, and whether its exporters queue on disk."""
    unit: str
    port: int
    metrics_port: int
    queue_on_disk: bool = True


STACK_COLLECTOR = Collector("otelcol", 4317, STACK_METRICS_PORT)
# The controls of the long outage, each the stack's own rendered exporters with one thing changed.
# The capped control keeps the disk queue and puts back the one timer issue 18 took away,
# retry_on_failure.max_elapsed_time 300 s (what every exporter had before; the exporter helper
# drops a request once it has passed).
CAPPED = Collector("otelcol-capped", 24317, 28888)
CAPPED_ELAPSED_TIME = "300s"
# The queue-off control keeps every timer and queues in memory instead of on disk: what it held
# when it restarted is gone.
IN_MEMORY = Collector("otelcol-memory", 34317, 38888, queue_on_disk=False)


def capped_exporter(exporter: dict[str, Any]) -> dict[str, Any]:
    return {**exporter, "retry_on_failure": {**exporter["retry_on_failure"], "max_elapsed_time": CAPPED_ELAPSED_TIME}}


def in_memory_exporter(exporter: dict[str, Any]) -> dict[str, Any]:
    return {**exporter, "sending_queue": {key: value for key, value in exporter["sending_queue"].items()
                                          if key != "storage"}}


def behind_intake(config: dict[str, Any], pipeline_id: str) -> dict[str, Any] | None:
    """The pipeline a pipeline hands its data to through its intake (it fans out); None without an intake.

    The name is the filter's (otelcol_render.fan_out_pipeline_id), read here from the rendered config
    as a user of it reads it: the scenario runs without the collection on its import path."""
    return config["service"]["pipelines"].get(f"{pipeline_id}/fan_out")


def backend_exporters(config: dict[str, Any], signal: str) -> list[str]:
    """The exporters a signal's pipeline hands its data to, past its intake where it has one; no connector."""
    pipeline = behind_intake(config, signal) or config["service"]["pipelines"][signal]
    return [name for name in pipeline["exporters"] if name in config["exporters"]]


def without_intake_wait(exporter: dict[str, Any]) -> dict[str, Any]:
    """An exporter as it is with no intake ahead of it: its disk queue refuses when full instead of
    waiting for room (a control has no intake)."""
    return {**exporter, "sending_queue": {key: value for key, value in exporter["sending_queue"].items()
                                          if key != "block_on_overflow"}}


def control_config(config: dict[str, Any], control: Collector,
                   exporter_change: Callable[[dict[str, Any]], dict[str, Any]]) -> dict[str, Any]:
    """A control's config, from the stack collector's rendered one: its OTLP receiver on control.port,
    its exporters (each changed by exporter_change) and processors as rendered, the disk queue in the
    control's own directory where it keeps one; no other receiver or connector, no listener but its own
    metrics on loopback."""
    assert all("storage" in exporter["sending_queue"] for exporter in config["exporters"].values()), \
        config["exporters"]
    signals = ("traces", "metrics", "logs")
    exporters = {name: exporter_change(without_intake_wait(config["exporters"][name]))
                 for signal in signals for name in backend_exporters(config, signal)}
    pipelines = {signal: {"receivers": ["otlp"], "processors": config["service"]["pipelines"][signal]["processors"],
                          "exporters": backend_exporters(config, signal)}
                 for signal in signals}
    queues = {exporters[name]["sending_queue"].get("storage") for pipeline in pipelines.values()
              for name in pipeline["exporters"]} - {None}
    assert len(queues) == (1 if control.queue_on_disk else 0), queues
    return {
        "receivers": {"otlp": {"protocols": {"grpc": {"endpoint": f"0.0.0.0:{control.port}"}}}},
        "processors": {name: config["processors"][name] for pipeline in pipelines.values()
                       for name in pipeline["processors"]},
        "exporters": exporters,
        "extensions": {queue: {**config["extensions"][queue], "directory": f"/var/lib/{control.unit}/queue"}
                       for queue in queues},
        # Its own metrics on loopback: what its exporters dropped, what it held when it restarted.
        "service": {"extensions": sorted(queues), "pipelines": pipelines, "telemetry": {"metrics": {
            "level": "basic", "readers": [
                {"pull": {"exporter": {"prometheus": {"host": "127.0.0.1", "port": control.metrics_port}}}}]}}},
    }


def put_file(lab: Any, path: str, content: str) -> None:
    lab.check_output("install -d %s && echo %s | base64 -d > %s", os.path.dirname(path),
                     base64.b64encode(content.encode()).decode(), path)


@contextlib.contextmanager
def control_collector(lab: Any, address: str, control: Collector,
                      exporter_change: Callable[[dict[str, Any]], dict[str, Any]] = lambda exporter: exporter,
                      config_of: Callable[[dict[str, Any]], dict[str, Any]] | None = None) -> Iterator[Collector]:
    """A control collector beside the stack's on the lab host, under the stack collector's user and
    binary, validated by that binary first; removed with its queue afterwards. Its config is made from
    the stack collector's rendered one: by control_config (with exporter_change), or by config_of."""
    stack = unit_properties(lab, STACK_COLLECTOR.unit, "User", "ExecStart")
    binary = re.search(r"path=(\S+)", stack["ExecStart"]).group(1)
    config_file = f"/etc/{control.unit}/config.yaml"
    rendered = yaml.safe_load(lab.file("/etc/otelcol/config.yaml").content_string)
    config = config_of(rendered) if config_of is not None else control_config(rendered, control, exporter_change)
    put_file(lab, config_file, yaml.safe_dump(config))
    lab.check_output("%s validate --config=%s", binary, config_file)
    put_file(lab, f"/etc/systemd/system/{control.unit}.service", "\n".join([
        "[Unit]", f"Description=Control collector of the reliability scenario ({control.unit})", "[Service]",
        f"User={stack['User']}", f"ExecStart={binary} --config={config_file}", f"StateDirectory={control.unit}", ""]))
    lab.check_output("systemctl daemon-reload && systemctl start %s", control.unit)
    try:
        assert collector_listening(address, port=control.port), f"{control.unit} does not answer on {control.port}"
        yield control
    finally:
        lab.run("systemctl stop %s; rm -rf %s /etc/%s /var/lib/%s; systemctl daemon-reload",
                control.unit, f"/etc/systemd/system/{control.unit}.service", control.unit, control.unit)


# --- the run ------------------------------------------------------------------

def outage_run(lab: Any, address: str, runs: dict[str, Collector], outage_s: int) -> dict[str, dict[str, Any]]:
    """Send to every collector of runs at once through one outage of the backends with a restart of
    every such collector in it; return, per mode, its run ID, what it was sent, what was stored,
    (traces and logs) how many of the stored were distinct, what its exporters dropped and (a collector
    that queues in memory) what it held when it restarted."""
    apis = {"traces": traces_api("jaeger"), "logs": logs_api("victorialogs"), "metrics": metrics_api("prometheus")}
    stamp = f"{int(time.time())}-{secrets.token_hex(3)}"
    run_ids = {mode: f"rel-{mode}-{stamp}" for mode in runs}
    sent: dict[str, dict[str, int]] = {}
    for collector in runs.values():
        assert collector_listening(address, port=collector.port), f"{collector.unit}'s OTLP port does not answer"
    send_to_each(address, runs, run_ids, SHARE_S["before"], sent)
    down = time.monotonic()
    systemctl(lab, "stop", *BACKENDS)
    try:
        send_to_each(address, runs, run_ids, SHARE_S["outage"], sent)
        # What a collector that queues in memory holds now, it loses in the restart.
        lost_in_restart = {mode: held(lab, collector.metrics_port) if not collector.queue_on_disk
                           else {signal: 0 for signal in sent[mode]} for mode, collector in runs.items()}
        systemctl(lab, "restart", *(collector.unit for collector in runs.values()))
        for collector in runs.values():
            assert collector_listening(address, port=collector.port), f"{collector.unit} did not come back"
        send_to_each(address, runs, run_ids, SHARE_S["after_restart"], sent)
        time.sleep(max(0.0, outage_s - (time.monotonic() - down)))
    finally:
        outage = time.monotonic() - down
        systemctl(lab, "start", *BACKENDS)
    # Each collector's run is final once its backends hold what it was sent less what it reports having
    # dropped (the capped control's given-up requests; the others', none) and less what it held in
    # memory when it restarted (the queue-off control's), or once nothing has changed for longer than
    # a collector may wait to reconnect and retry.

    def accounted() -> dict[str, dict[str, int]]:
        gone = {mode: dropped(lab, collector.metrics_port) for mode, collector in runs.items()}
        return {mode: {signal: count - gone[mode][signal] - lost_in_restart[mode][signal]
                       for signal, count in sent[mode].items()} for mode in runs}
    counts, drain_s = drained(lambda: {mode: stored(apis, run_ids[mode]) for mode in runs}, accounted,
                              quiet_after(outage))
    results = {}
    for mode, collector in runs.items():
        distinct = {"traces": distinct_spans(apis["traces"], run_ids[mode], "reliability"),
                    "logs": distinct_logs(apis["logs"], run_ids[mode])}
        gave_up = dropped(lab, collector.metrics_port)
        results[mode] = {"run_id": run_ids[mode], "sent": sent[mode], "stored": counts[mode], "distinct": distinct,
                         "dropped": gave_up, "lost_in_restart": lost_in_restart[mode]}
        for signal in ("traces", "logs", "metrics"):
            FIGURES.append(f"FIGURES-RELIABILITY queue={mode} signal={signal} sent={sent[mode][signal]} "
                           f"stored={counts[mode][signal]} lost={sent[mode][signal] - counts[mode][signal]} "
                           f"distinct={distinct.get(signal, 'n/a')} dropped={gave_up[signal]} "
                           f"held_at_restart={lost_in_restart[mode][signal]} "
                           f"outage_s={outage:.0f} drain_s={drain_s[mode]:.0f}")
        print("\n" + "\n".join(FIGURES[-3:]))
    return results


def stack_spec() -> dict[str, Any]:
    return copy.deepcopy(yaml.safe_load(STACK_VARS.read_text())["lgtm_stack_collector_spec"])


def explain(result: dict[str, Any]) -> str:
    return json.dumps({key: result[key] for key in ("run_id", "sent", "stored", "distinct", "dropped",
                                                    "lost_in_restart")})


# --- the tests ----------------------------------------------------------------

@pytest.fixture(scope="module")
def long_outage(lab, address) -> dict[str, dict[str, Any]]:
    """One outage longer than every timer of the rendered config, the collectors restarted in it, sent
    to the stack's collector and its two controls at once."""
    assert "directory" in stack_spec()["persistent_queue"], "site.yml's spec should keep a persistent queue"
    assert lab.file("/etc/otelcol/config.yaml").contains("file_storage/queue")
    assert LONG_OUTAGE_S > int(CAPPED_ELAPSED_TIME.rstrip("s")) + SHARE_S["outage"] + SHARE_S["after_restart"]
    with contextlib.ExitStack() as controls:
        runs = {"on": STACK_COLLECTOR,
                "capped": controls.enter_context(control_collector(lab, address, CAPPED, capped_exporter)),
                "off": controls.enter_context(control_collector(lab, address, IN_MEMORY, in_memory_exporter))}
        return outage_run(lab, address, runs, LONG_OUTAGE_S)


def test_persistent_queue_loses_nothing_through_a_long_outage_and_restart(long_outage):
    """Through the long outage and the restart, every item stored once. The capped control, sent the same
    load through the same outage and restart, must lose data: proof that the outage is long enough to
    catch a timer that gives up."""
    stack, capped = long_outage["on"], long_outage["capped"]
    assert stack["stored"] == stack["sent"], explain(stack)
    assert all(stack["distinct"][signal] == stack["stored"][signal] for signal in stack["distinct"]), explain(stack)
    assert any(capped["stored"][signal] < capped["sent"][signal] for signal in capped["sent"]), \
        f"the capped control lost nothing through the outage: {explain(capped)}"
    # Its own exporters say why: requests given up once their retries had run for 300 s, and every item
    # it was sent is either stored or among them.
    assert any(capped["dropped"].values()), f"the capped control dropped nothing: {explain(capped)}"
    assert all(capped["stored"][signal] + capped["dropped"][signal] == capped["sent"][signal]
               for signal in capped["sent"]), f"the capped control's loss is not its drops: {explain(capped)}"


def test_memory_queue_loses_data_through_the_same_run(long_outage):
    """The queue-off control (the stack's rendered exporters, every timer kept, the queue in memory), sent
    the same load through the same outage and restart: it loses spans, exactly what it held in memory
    when it restarted, and nothing else."""
    result = long_outage["off"]
    lost = {signal: result["sent"][signal] - result["stored"][signal] for signal in result["sent"]}
    assert lost["traces"] > 0, f"the in-memory queue lost no spans through the restart: {explain(result)}"
    assert lost == result["lost_in_restart"], f"its loss is not what it held at the restart: {explain(result)}"
    assert not any(result["dropped"].values()), f"its exporters dropped data: {explain(result)}"
    assert all(result["distinct"][signal] == result["stored"][signal] for signal in result["distinct"]), \
        explain(result)


# --- large spans after an outage ---------------------------------------------------

# The control: the same traces path as the fan-out control (no intake), its exporters' batches counted
# in spans as every exporter's were before: 8,192 to 16,384, whatever their bytes. Its flush timeout
# outlasts the offer, so each batch fills to min_size however fast the sender is, as a busy
# collector's batches or a queue's backlog do (with 200 ms, a slow sender's batches stay small).
ITEMS_CONTROL = Collector("otelcol-items", 54318, 58888)
ITEMS_BATCH = {"sizer": "items", "min_size": 8192, "max_size": 16384, "flush_timeout": "20s"}
# 12 requests of 1,000 spans of about 1.1 KB, about 13 MB: the backlog of a short traces outage, which
# leaves the queue in full batches once Jaeger is back; 8,192 such spans are about 9 MB.
LARGE_SPANS_OFFER = {"requests": 12, "spans": 1000, "span_bytes": 1024}
# What an OTLP/gRPC server such as Jaeger's takes unless told otherwise (grpc-go's default); a larger
# request is refused with RESOURCE_EXHAUSTED, which the OTLP exporter drops without retrying.
GRPC_MAX_MESSAGE_BYTES = 4 * 1024 * 1024


def items_batched(exporter: dict[str, Any]) -> dict[str, Any]:
    """An exporter whose batch counts items (ITEMS_BATCH) instead of bytes; the rest as rendered."""
    queue = exporter["sending_queue"]
    return {**exporter, "sending_queue": {**queue, "batch": {**queue["batch"], **ITEMS_BATCH}}}


def host_now(lab: Any) -> str:
    """The lab host's clock, as journalctl's --since reads it."""
    return lab.check_output("date %s", "+%Y-%m-%d %H:%M:%S")


def journal_since(lab: Any, unit: str, since: str) -> str:
    """A unit's journal messages since a time of host_now."""
    return lab.check_output("journalctl -u %s --no-pager -o cat --since %s", unit, since)


def test_large_spans_after_an_outage_reach_jaeger_in_requests_it_takes(lab, address):
    """Batches bounded in bytes: the stack's backend exporters batch by size, at most the 4 MiB a gRPC
    backend takes, so spans of 1 KiB offered while Jaeger is down are delivered whole once it is back.
    The control, the same traces path with its batches counted in spans as before, sends a batch of
    8,192 or more such spans (about 9 MB): Jaeger refuses it (RESOURCE_EXHAUSTED), and the exporter
    drops it without a retry, spans the collector had accepted. Runs on the site.yml converge the long
    outage left: the lab's 64 MiB bound gives each of the four disk queues 16 MiB, more than the 13 MB
    offered, so nothing is refused."""
    config = yaml.safe_load(lab.file("/etc/otelcol/config.yaml").content_string)
    traces_exporter = backend_exporters(config, "traces")[0]
    queue = config["exporters"][traces_exporter]["sending_queue"]
    assert "storage" in queue and (queue["batch"]["sizer"], queue["batch"]["max_size"]) == (
        "bytes", GRPC_MAX_MESSAGE_BYTES), queue
    assert collector_listening(address, port=4318), "the collector's OTLP/HTTP port does not answer"
    traces = traces_api("jaeger")
    stamp = f"{int(time.time())}-{secrets.token_hex(3)}"
    run_ids = {"stack": f"rel-large-stack-{stamp}", "control": f"rel-large-control-{stamp}"}
    ports = {"stack": 4318, "control": ITEMS_CONTROL.port}
    metrics_ports = {"stack": STACK_METRICS_PORT, "control": ITEMS_CONTROL.metrics_port}
    sent = LARGE_SPANS_OFFER["requests"] * LARGE_SPANS_OFFER["spans"]
    started = host_now(lab)
    with control_collector(lab, address, ITEMS_CONTROL,
                           config_of=lambda rendered: fan_out_control_config(rendered, ITEMS_CONTROL, items_batched)):
        failed_before = {mode: collector_counter(lab, DROPPED_COUNTERS["traces"], port)
                         for mode, port in metrics_ports.items()}

        def gave_up() -> dict[str, int]:
            return {mode: int(collector_counter(lab, DROPPED_COUNTERS["traces"], port) - failed_before[mode])
                    for mode, port in metrics_ports.items()}
        down = time.monotonic()
        systemctl(lab, "stop", "jaeger")
        try:
            answers = {mode: offer_logs(address, [traces_request(run_ids[mode], index, LARGE_SPANS_OFFER)
                                                  for index in range(LARGE_SPANS_OFFER["requests"])], "traces",
                                        ports[mode])[0] for mode in run_ids}
        finally:
            outage = time.monotonic() - down
            systemctl(lab, "start", "jaeger")
        # Final once Jaeger holds what was sent less what the exporters gave up, or nothing changes.
        counts, drain_s = drained(
            lambda: {mode: stored_and_distinct(traces, run_ids[mode]) for mode in run_ids},
            lambda: {mode: (sent - lost, sent - lost) for mode, lost in gave_up().items()},
            quiet_after(outage))
        dropped_spans = gave_up()
        refused = journal_since(lab, ITEMS_CONTROL.unit, started).count("larger than max")
    for mode in run_ids:
        FIGURES.append(f"FIGURES-RELIABILITY large_spans {mode} requests={LARGE_SPANS_OFFER['requests']}x"
                       f"{LARGE_SPANS_OFFER['spans']}_spans_of_{LARGE_SPANS_OFFER['span_bytes']}B answers={answers[mode]} "
                       f"sent={sent} stored={counts[mode][0]} distinct={counts[mode][1]} dropped={dropped_spans[mode]} "
                       f"outage_s={outage:.0f} drain_s={drain_s[mode]:.0f}"
                       + (f" journal_larger_than_max={refused}" if mode == "control" else ""))
        print("\n" + FIGURES[-1])
    assert all(answer == {200: LARGE_SPANS_OFFER["requests"]} for answer in answers.values()), answers
    assert counts["stack"] == (sent, sent) and dropped_spans["stack"] == 0, (counts, dropped_spans)
    # The control accepted every span and lost some: each one it dropped after Jaeger refused its batch.
    assert dropped_spans["control"] > 0 and refused > 0, (counts, dropped_spans, refused)
    assert counts["control"][0] == counts["control"][1] == sent - dropped_spans["control"], (counts, dropped_spans)


# --- a full disk queue ------------------------------------------------------------

# Four disk queues (traces, metrics, logs and the traces pipeline's intake) share the bound: 4 MiB
# each, the least the filter accepts.
DISK_QUEUES = 4
FULL_QUEUE_MAX_MIB = 4 * DISK_QUEUES
# What the sender offers with the logs backend down: 48 requests of 100 records of 1 KiB, about
# 4.9 MiB, more than the logs queue's 4 MiB share holds.
FULL_QUEUE_OFFER = {"requests": 48, "records": 100, "record_bytes": 1024}
RESEND_S = 240                 # the longest the sender keeps resending once the backend is back
RETRYABLE = (429, 503)         # OTLP/HTTP's retryable answers


def logs_request(run_id: str, request: int) -> bytes:
    """One OTLP logs request: FULL_QUEUE_OFFER["records"] records, each tagged with run.id and its own seq."""
    records = [LogRecord(time_unix_nano=time.time_ns(), severity_text="INFO",
                         body=AnyValue(string_value="x" * FULL_QUEUE_OFFER["record_bytes"]),
                         attributes=[KeyValue(key="run.id", value=AnyValue(string_value=run_id)),
                                     KeyValue(key="seq", value=AnyValue(int_value=request * 1000 + index))])
               for index in range(FULL_QUEUE_OFFER["records"])]
    return ExportLogsServiceRequest(resource_logs=[ResourceLogs(
        resource=Resource(attributes=[KeyValue(key="service.name", value=AnyValue(string_value="reliability-full"))]),
        scope_logs=[ScopeLogs(log_records=records)])]).SerializeToString()


def post_logs(address: str, body: bytes, signal: str = "logs", port: int = 4318) -> int:
    """POST one request to a collector's OTLP/HTTP port, as an OTLP sender does; the HTTP status."""
    request = urllib.request.Request(f"http://{address}:{port}/v1/{signal}", data=body, method="POST",
                                     headers={"Content-Type": "application/x-protobuf"})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status
    except urllib.error.HTTPError as refused:
        return refused.code


def stored_logs_distinct(api: Http, run_id: str) -> tuple[int, int]:
    """Records of a run that VictoriaLogs stores, and how many distinct seq values among them."""
    row = logsql_stats(api, f'_time:2h AND run.id:="{run_id}" | stats count() as n, count_uniq(seq) as u')
    return int(row.get("n", 0)), int(row.get("u", 0))


def offer_logs(address: str, requests: list[bytes], signal: str = "logs",
               port: int = 4318) -> tuple[dict[int, int], list[bytes]]:
    """Offer each request once: the count of each answer, and the requests refused (each answer must be
    200 or retryable)."""
    answers: dict[int, int] = {}
    refused: list[bytes] = []
    for body in requests:
        status = post_logs(address, body, signal, port)
        answers[status] = answers.get(status, 0) + 1
        assert status == 200 or status in RETRYABLE, f"the collector answered {status}, not retryable"
        if status != 200:
            refused.append(body)
    return answers, refused


def resend_until_taken(address: str, refused: list[bytes], since: str, signal: str = "logs",
                       port: int = 4318) -> int:
    """Resend the refused requests in order, as an OTLP sender does, until each is taken (RESEND_S at
    most); the number of resends."""
    resends = 0
    deadline = time.monotonic() + RESEND_S
    while refused and time.monotonic() < deadline:
        status = post_logs(address, refused[0], signal, port)
        resends += 1
        assert status == 200 or status in RETRYABLE, f"the collector answered {status}, not retryable"
        if status == 200:
            refused.pop(0)
        else:
            time.sleep(2)
    assert not refused, f"{len(refused)} requests still refused {RESEND_S} s after {since}"
    return resends


def stored_once(api: Http, run_id: str, sent: int) -> tuple[int, int]:
    """The run's records in VictoriaLogs and the distinct among them, once they are all there or have not
    changed for the retry interval (over OTLP/HTTP, no reconnect to wait for)."""
    return drained(lambda: {"run": stored_logs_distinct(api, run_id)}, lambda: {"run": (sent, sent)},
                   RETRY_QUIET_S + COUNT_MARGIN_S)[0]["run"]


def test_full_disk_queue_refuses_and_keeps_what_it_accepted(lab, address):
    """A disk queue bounded in bytes (issue 18): full, the collector refuses with a retryable error instead of
    dropping; the sender resends once the backend is back; stored = sent, each record once."""
    spec = stack_spec()
    spec["persistent_queue"]["max_mib"] = FULL_QUEUE_MAX_MIB
    run = site("--tags", "otel_collector", extra_vars={"lgtm_stack_collector_spec": spec})
    assert run.returncode == 0, failed_tasks(run)
    config = yaml.safe_load(lab.file("/etc/otelcol/config.yaml").content_string)
    queues = {name: exporter["sending_queue"] for name, exporter in config["exporters"].items()
              if "storage" in exporter.get("sending_queue", {})}
    assert {(queue["sizer"], queue["queue_size"]) for queue in queues.values()} == {("bytes", 4 * 2**20)}, queues
    assert collector_listening(address), "the collector's OTLP gRPC port does not answer"
    api = logs_api("victorialogs")
    run_id = f"rel-full-{int(time.time())}-{secrets.token_hex(3)}"
    requests = [logs_request(run_id, index) for index in range(FULL_QUEUE_OFFER["requests"])]
    systemctl(lab, "stop", "victorialogs")
    try:
        answers, refused = offer_logs(address, requests)
        first_refusals = len(refused)
        # Still full while the backend is down: a resend is refused again, not dropped.
        time.sleep(5)
        assert refused and post_logs(address, refused[0]) in RETRYABLE, f"no refusal with the queue full: {answers}"
    finally:
        systemctl(lab, "start", "victorialogs")
    resends = resend_until_taken(address, refused, "the backend came back")
    sent = FULL_QUEUE_OFFER["requests"] * FULL_QUEUE_OFFER["records"]
    counts = stored_once(api, run_id, sent)
    FIGURES.append(f"FIGURES-RELIABILITY full_queue max_mib={FULL_QUEUE_MAX_MIB} logs_share_mib=4 "
                   f"requests={FULL_QUEUE_OFFER['requests']} refused_first={first_refusals} resends={resends} "
                   f"sent={sent} stored={counts[0]} distinct={counts[1]}")
    print("\n" + FIGURES[-1])
    assert first_refusals > 0, f"the full queue refused nothing: {answers}"
    assert counts == (sent, sent), f"sent {sent}, stored {counts[0]}, of which distinct {counts[1]}"


# --- a full queue where the traces pipeline fans out -----------------------------------

# The control: the stack's rendered config without the intake, its traces pipeline fanning out
# to the traces exporter and the connectors itself (each exporter's disk queue refusing when full,
# the shape before issue 18's intake). It sends its span metrics to the same Prometheus.
FAN_OUT_CONTROL = Collector("otelcol-fan-out", 44318, 48888)
# 100 requests of 500 spans of about 220 bytes: about 11 MB, more than the stack's intake and traces
# queue hold together (4 MiB each) and than the control's traces queue.
FAN_OUT_OFFER = {"requests": 100, "spans": 500, "span_bytes": 96}


def traces_request(run_id: str, request: int, offer: dict[str, int] | None = None) -> bytes:
    """One OTLP traces request: one trace of offer["spans"] server spans (FAN_OUT_OFFER's by default), its
    service named run_id (span metrics count calls by service), each span tagged with run.id and its own
    seq and padded with offer["span_bytes"]."""
    offer = offer or FAN_OUT_OFFER
    now = time.time_ns()
    trace_id = secrets.token_bytes(16)
    spans = [Span(trace_id=trace_id, span_id=secrets.token_bytes(8), name="fan-out", kind=2,
                  start_time_unix_nano=now, end_time_unix_nano=now + 1_000_000,
                  attributes=[KeyValue(key="run.id", value=AnyValue(string_value=run_id)),
                              KeyValue(key="seq", value=AnyValue(int_value=request * 1000 + index)),
                              KeyValue(key="pad", value=AnyValue(string_value="x" * offer["span_bytes"]))])
             for index in range(offer["spans"])]
    return ExportTraceServiceRequest(resource_spans=[ResourceSpans(
        resource=Resource(attributes=[KeyValue(key="service.name", value=AnyValue(string_value=run_id))]),
        scope_spans=[ScopeSpans(spans=spans)])]).SerializeToString()


def fan_out_control_config(config: dict[str, Any], control: Collector = FAN_OUT_CONTROL,
                           exporter_change: Callable[[dict[str, Any]], dict[str, Any]] = lambda exporter: exporter,
                           ) -> dict[str, Any]:
    """The stack collector's traces path with no intake: OTLP/HTTP in on the control's port, the traces
    pipeline's processors, then the traces exporter and the connectors; the connectors' metrics through
    the metrics pipeline's processors to its exporter. The disk queues in the control's own directory;
    each exporter changed by exporter_change."""
    pipelines = config["service"]["pipelines"]
    traces_out = behind_intake(config, "traces")["exporters"]
    connectors = [name for name in traces_out if name in config["connectors"]]
    metrics = {"receivers": connectors, "processors": pipelines["metrics"]["processors"],
               "exporters": pipelines["metrics"]["exporters"]}
    traces = {"receivers": ["otlp"], "processors": pipelines["traces"]["processors"], "exporters": traces_out}
    exporters = {name: exporter_change(without_intake_wait(config["exporters"][name]))
                 for name in [*traces_out, *metrics["exporters"]] if name in config["exporters"]}
    queues = {exporter["sending_queue"]["storage"] for exporter in exporters.values()}
    return {
        "receivers": {"otlp": {"protocols": {"http": {"endpoint": f"0.0.0.0:{control.port}"}}}},
        "processors": {name: config["processors"][name] for name in {*traces["processors"], *metrics["processors"]}},
        "connectors": {name: config["connectors"][name] for name in connectors},
        "exporters": exporters,
        "extensions": {queue: {**config["extensions"][queue], "directory": f"/var/lib/{control.unit}/queue"}
                       for queue in queues},
        "service": {"extensions": sorted(queues), "pipelines": {"traces": traces, "metrics": metrics},
                    "telemetry": {"metrics": {"level": "basic", "readers": [{"pull": {"exporter": {"prometheus": {
                        "host": "127.0.0.1", "port": control.metrics_port}}}}]}}},
    }


def span_metrics_calls(api: Http, service: str) -> int:
    """How many calls span metrics counted for a service, in Prometheus (every collector instance's series)."""
    result = instant_query(api, f'sum(traces_span_metrics_calls_total{{service_name="{service}"}})')
    return int(float(result[0]["value"][1])) if result else 0


def stored_and_distinct(api: Http, run_id: str) -> tuple[int, int]:
    """The spans of a run (its service) that Jaeger stores, and the distinct among them, from one query."""
    ids = run_span_ids(api, run_id, run_id)
    return len(ids), len(set(ids))


def fan_out_run(address: str, run_id: str, port: int) -> dict[str, Any]:
    """Offer FAN_OUT_OFFER to a collector with the traces backend down, resend what it refused once while
    it is still down: the answers, the requests still refused, and how many requests were attempted."""
    requests = [traces_request(run_id, index) for index in range(FAN_OUT_OFFER["requests"])]
    answers, refused = offer_logs(address, requests, "traces", port)
    attempts = len(requests)
    # Still full while the backend is down: each resend refused again.
    again, refused = offer_logs(address, refused, "traces", port)
    attempts += sum(again.values())
    return {"answers": answers, "again": again, "refused": refused, "attempts": attempts}


def test_a_full_queue_refuses_before_the_traces_fan_out_so_nothing_is_counted_twice(lab, address):
    """Refuse before the fan-out (issue 18): site.yml's traces pipeline feeds the traces exporter and the
    span-metrics and service-graph connectors. Its intake, one disk queue ahead of them, is what refuses
    when full, and the traces queue behind it waits for room: so a request the sender must resend never
    reached the connectors, and span metrics count every span once, as Jaeger stores it. The control,
    the same config without the intake, refuses at the traces exporter after the connectors have counted
    the request: its span metrics count every attempt, more than were sent."""
    spec = stack_spec()
    spec["persistent_queue"]["max_mib"] = FULL_QUEUE_MAX_MIB
    run = site("--tags", "otel_collector", extra_vars={"lgtm_stack_collector_spec": spec})
    assert run.returncode == 0, failed_tasks(run)
    config = yaml.safe_load(lab.file("/etc/otelcol/config.yaml").content_string)
    traces_exporter = backend_exporters(config, "traces")[0]
    assert config["service"]["pipelines"]["traces"]["exporters"] == ["otlp_grpc/intake_traces"], config["service"]
    assert config["exporters"][traces_exporter]["sending_queue"]["block_on_overflow"] is True
    assert collector_listening(address, port=4318), "the collector's OTLP/HTTP port does not answer"
    traces, metrics = traces_api("jaeger"), metrics_api("prometheus")
    stamp = f"{int(time.time())}-{secrets.token_hex(3)}"
    run_ids = {"stack": f"rel-fan-out-stack-{stamp}", "control": f"rel-fan-out-control-{stamp}"}
    ports = {"stack": 4318, "control": FAN_OUT_CONTROL.port}
    with control_collector(lab, address, FAN_OUT_CONTROL, config_of=fan_out_control_config):
        systemctl(lab, "stop", "jaeger")
        try:
            runs = {mode: fan_out_run(address, run_ids[mode], ports[mode]) for mode in run_ids}
        finally:
            systemctl(lab, "start", "jaeger")
        for mode, result in runs.items():
            result["attempts"] += resend_until_taken(address, list(result["refused"]), "Jaeger came back",
                                                     "traces", ports[mode])
        sent = FAN_OUT_OFFER["requests"] * FAN_OUT_OFFER["spans"]
        # Every span stored once, and span metrics settled (they flush every minute).
        counts = drained(
            lambda: {mode: (*stored_and_distinct(traces, run_ids[mode]), span_metrics_calls(metrics, run_ids[mode]))
                     for mode in run_ids},
            lambda: {mode: (sent, sent, sent if mode == "stack" else runs[mode]["attempts"] * FAN_OUT_OFFER["spans"])
                     for mode in run_ids},
            quiet_after(60) + COUNT_MARGIN_S)[0]
    for mode, result in runs.items():
        FIGURES.append(f"FIGURES-RELIABILITY fan_out_full_queue {mode} max_mib={FULL_QUEUE_MAX_MIB} "
                       f"requests={FAN_OUT_OFFER['requests']} answers={result['answers']} resent_while_down="
                       f"{result['again']} attempts={result['attempts']} sent={sent} stored={counts[mode][0]} "
                       f"distinct={counts[mode][1]} span_metrics_calls={counts[mode][2]}")
        print("\n" + FIGURES[-1])
    for mode, result in runs.items():
        assert sum(result["answers"].get(code, 0) for code in RETRYABLE) > 0, f"{mode}: the full queue refused nothing"
        assert counts[mode][:2] == (sent, sent), f"{mode}: sent {sent}, stored {counts[mode][0]}, distinct {counts[mode][1]}"
    assert counts["stack"][2] == sent, f"the stack's span metrics counted {counts['stack'][2]} calls of {sent} spans"
    # The control counts every attempt the connectors saw: the refused ones again on each resend.
    assert counts["control"][2] == runs["control"]["attempts"] * FAN_OUT_OFFER["spans"] > sent, \
        f"the control's span metrics counted {counts['control'][2]} of {sent} spans: {runs['control']}"


# --- a full disk under the queue ---------------------------------------------------

# The queue's directory on a filesystem of its own, small enough to fill: room for the room the role
# reserves for the queues (twice the bound) when site.yml runs, then filled by something else.
DISK_FULL = {"filesystem_mib": 40, "max_mib": FULL_QUEUE_MAX_MIB, "left_kib": 512}
QUEUE_DIRECTORY = "/var/lib/otelcol/queue"
BALLAST = f"{QUEUE_DIRECTORY}/ballast-not-a-queue"
LOGS_QUEUE_FILE = f"{QUEUE_DIRECTORY}/exporter_otlp_http_logs_logs"   # the logs backend's exporter, otlp_http/logs
# What a collector's journal says when its queue's database is broken or it crashed.
BROKEN_QUEUE = re.compile(r"panic|corrupt|invalid database|fatal error|page \d+ already freed", re.IGNORECASE)


def allocated_kib(lab: Any, path: str) -> int:
    """The room a file holds on its filesystem (its blocks, reserved ones counted), in KiB."""
    return int(lab.check_output("du -k %s | cut -f1", path))


def room_kib(lab: Any, path: str) -> int:
    return int(lab.check_output("df --output=avail -B1K %s | tail -n 1", path))


@contextlib.contextmanager
def small_queue_filesystem(lab: Any) -> Iterator[None]:
    """The stack collector's queue directory on a tmpfs of DISK_FULL["filesystem_mib"], the collector
    stopped while it is mounted and removed; what was queued before waits on the disk below."""
    systemctl(lab, "stop", "otelcol")
    lab.check_output("install -d -o otelcol -g otelcol -m 0750 %s && mount -t tmpfs -o size=%sm,mode=0750 tmpfs %s "
                     "&& chown otelcol:otelcol %s", QUEUE_DIRECTORY, str(DISK_FULL["filesystem_mib"]),
                     QUEUE_DIRECTORY, QUEUE_DIRECTORY)
    try:
        yield
    finally:
        lab.run("systemctl stop otelcol; umount %s; systemctl start otelcol", QUEUE_DIRECTORY)


def test_full_disk_under_the_queue_refuses_keeps_running_and_recovers(lab, address):
    """The queue's filesystem filled by something else (issue 18): the queue still has the room the role
    reserved for its file, so it takes what fits its bound though the filesystem has less left, and refuses
    the rest with a retryable error; the collector keeps running. Once there is room again and the backend
    is back, the sender's resends are taken and every record is stored once; restarted, the collector opens
    its queue again and carries on. (Without the reservation, a failed write of the queue's database made
    the collector drop items it had accepted: upstream's getNextItem.)"""
    spec = stack_spec()
    spec["persistent_queue"]["max_mib"] = DISK_FULL["max_mib"]
    api = logs_api("victorialogs")
    run_id = f"rel-disk-{int(time.time())}-{secrets.token_hex(3)}"
    requests = [logs_request(run_id, index) for index in range(FULL_QUEUE_OFFER["requests"])]
    with small_queue_filesystem(lab):
        # site.yml finds room for twice the bound on the small filesystem, and starts the collector on it.
        run = site("--tags", "otel_collector", extra_vars={"lgtm_stack_collector_spec": spec})
        assert run.returncode == 0, failed_tasks(run)
        assert collector_listening(address), "the collector's OTLP gRPC port does not answer"
        before = unit_properties(lab, "otelcol", "MainPID", "NRestarts")
        systemctl(lab, "stop", "victorialogs")
        try:
            # Something else fills the disk: DISK_FULL["left_kib"] left for the queue.
            lab.check_output("fallocate -l %sK %s", str(room_kib(lab, QUEUE_DIRECTORY) - DISK_FULL["left_kib"]),
                             BALLAST)
            reserved_kib = allocated_kib(lab, LOGS_QUEUE_FILE)
            answers, refused = offer_logs(address, requests)
            first_refusals = len(refused)
            taken_kib = sum(len(body) for body in requests if body not in refused) // 1024
            assert refused, f"nothing refused with the disk full: {answers}"
            time.sleep(5)
            assert post_logs(address, refused[0]) in RETRYABLE, "a resend with the disk still full was not refused"
            during = unit_properties(lab, "otelcol", "MainPID", "NRestarts")
            assert during == before, f"the collector restarted with its disk full: {before} -> {during}"
        finally:
            lab.run("rm -f %s", BALLAST)
            systemctl(lab, "start", "victorialogs")
        resends = resend_until_taken(address, refused, "the disk had room again")
        sent = FULL_QUEUE_OFFER["requests"] * FULL_QUEUE_OFFER["records"]
        counts = stored_once(api, run_id, sent)
        after = unit_properties(lab, "otelcol", "MainPID", "NRestarts")
        # Restarted, it opens the queue it wrote through the full disk and takes data again.
        restarted_at = host_now(lab)
        systemctl(lab, "restart", "otelcol")
        assert collector_listening(address), "the collector did not come back after its disk had been full"
        after_restart = f"{run_id}-after-restart"
        assert post_logs(address, logs_request(after_restart, 0)) == 200
        stored_after_restart = stored_once(api, after_restart, FULL_QUEUE_OFFER["records"])
        log = journal_since(lab, "otelcol", restarted_at)
    FIGURES.append(f"FIGURES-RELIABILITY full_disk filesystem_mib={DISK_FULL['filesystem_mib']} "
                   f"left_kib={DISK_FULL['left_kib']} requests={FULL_QUEUE_OFFER['requests']} "
                   f"refused_first={first_refusals} answers={answers} resends={resends} sent={sent} "
                   f"stored={counts[0]} distinct={counts[1]} restarts={int(after['NRestarts']) - int(before['NRestarts'])} "
                   f"stored_after_restart={stored_after_restart[0]} logs_queue_reserved_kib={reserved_kib} "
                   f"taken_kib={taken_kib}")
    print("\n" + FIGURES[-1])
    # The queue's file held twice the logs queue's share before the disk filled, and the queue took
    # more than the filesystem had left: it wrote into its own room.
    assert reserved_kib >= 2 * DISK_FULL["max_mib"] * 1024 // DISK_QUEUES, \
        f"the logs queue's file holds {reserved_kib} KiB"
    assert taken_kib > DISK_FULL["left_kib"], f"taken {taken_kib} KiB with {DISK_FULL['left_kib']} KiB left: {answers}"
    assert after == before, f"the collector restarted while its disk was full or refilled: {before} -> {after}"
    assert counts == (sent, sent), f"sent {sent}, stored {counts[0]}, of which distinct {counts[1]}"
    assert stored_after_restart == (FULL_QUEUE_OFFER["records"],) * 2, stored_after_restart
    broken = [line for line in log.splitlines() if BROKEN_QUEUE.search(line)]
    assert not broken, "the collector's journal since the restart:\n" + "\n".join(broken[:20])


# --- memory pressure ------------------------------------------------------------

BURST_LIMIT_MIB = 200          # the memory_limiter limit of the burst run: a unit cap (MemoryMax) of 250 MiB
BURST = {"workers": 8, "size_mb": 1, "batch": 4, "seconds": 20}   # 1 MiB spans, 8 senders, no rate limit
BURST_TIMEOUT_S = 90           # telemetrygen keeps retrying refused exports; it is stopped after this
# The burst run queues in memory (persistent_queue off), so that everything accepted waits in the
# collector's memory and memory is what refuses. With the disk queue, the backends' batches bounded in
# bytes (1 MiB each) leave nothing to pile up in memory: the same burst filled the queue first and was
# refused as "sending queue is full", anonymous memory at most 159 MiB, the limiter never reached.
BURST_QUEUE = {"enabled": False}


def unit_state(lab: Any) -> dict[str, str]:
    return unit_properties(lab, "otelcol", "MainPID", "NRestarts", "MemoryMax", "ControlGroup")


def oom_kills(lab: Any, control_group: str) -> int:
    """OOM kills in the service's cgroup: memory.events (cgroup v2) or memory.oom_control (v1)."""
    for path in (f"/sys/fs/cgroup{control_group}/memory.events",
                 f"/sys/fs/cgroup/memory{control_group}/memory.oom_control"):
        if lab.file(path).exists:
            fields = dict(line.split() for line in lab.file(path).content_string.splitlines())
            return int(fields.get("oom_kill", 0))
    raise AssertionError(f"no memory controller files for {control_group}")


def anonymous_rss_mib(lab: Any, pid: str) -> float:
    # Anonymous memory only: the binary's own file pages (RssFile, ~120 MiB) are
    # page cache the kernel shares and reclaims, charged to whoever read them first.
    status = lab.run("grep RssAnon /proc/%s/status", pid)
    return int(status.stdout.split()[1]) / 1024 if status.rc == 0 else 0.0


def test_burst_above_memory_limit_is_refused_without_oom_kill(lab, address):
    """A burst far above the memory limit: refused with back-pressure, no OOM kill, RSS under the unit's cap."""
    spec = stack_spec()
    spec["memory"] = {"limit_mib": BURST_LIMIT_MIB}
    spec["persistent_queue"] = BURST_QUEUE
    run = site("--tags", "otel_collector", extra_vars={"lgtm_stack_collector_spec": spec})
    assert run.returncode == 0, failed_tasks(run)
    before = unit_state(lab)
    cap_mib = int(before["MemoryMax"]) / 2**20
    assert cap_mib == BURST_LIMIT_MIB * 100 / 80, f"the unit's MemoryMax is not the budget of the limit: {before}"
    assert collector_listening(address), "the collector's OTLP gRPC port does not answer"
    refused_before = collector_counter(lab, "otelcol_receiver_refused_spans")
    # With the traces backend down every accepted span waits in the collector.
    systemctl(lab, "stop", "jaeger")
    try:
        burst = subprocess.Popen(
            ["timeout", str(BURST_TIMEOUT_S), telemetrygen(), "traces", "--otlp-endpoint", f"{address}:4317",
             "--otlp-insecure", "--workers", str(BURST["workers"]), "--rate", "0", "--size", str(BURST["size_mb"]),
             "--batch-size", str(BURST["batch"]), "--duration", f"{BURST['seconds']}s", "--service", "burst"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        peak_anon = 0.0
        while burst.poll() is None:
            peak_anon = max(peak_anon, anonymous_rss_mib(lab, before["MainPID"]))
            time.sleep(0.5)
        output = burst.communicate()[0]
    finally:
        systemctl(lab, "start", "jaeger")
    after = unit_state(lab)
    refused = collector_counter(lab, "otelcol_receiver_refused_spans") - refused_before
    accepted = collector_counter(lab, "otelcol_receiver_accepted_spans")
    kills = oom_kills(lab, after["ControlGroup"])
    FIGURES.append(f"FIGURES-RELIABILITY memory limit_mib={BURST_LIMIT_MIB} memory_max_mib={cap_mib:.0f} "
                   f"burst_mib_offered={BURST['workers']}x{BURST['size_mb']}MiB_spans_unthrottled_{BURST['seconds']}s "
                   f"peak_anon_rss_mib={peak_anon:.0f} accepted_spans={accepted:.0f} refused_spans={refused:.0f} "
                   f"oom_kills={kills} restarts={int(after['NRestarts']) - int(before['NRestarts'])}")
    print("\n" + FIGURES[-1])
    # The senders saw the back-pressure, the collector counted it...
    assert "data refused due to high memory usage" in output, f"telemetrygen saw no back-pressure:\n{output[-2000:]}"
    assert refused > 0, "the collector refused no spans during the burst"
    # ...and it was never killed: same process, no restart, no OOM kill, memory under the cap throughout.
    assert after["MainPID"] == before["MainPID"] and after["NRestarts"] == before["NRestarts"], (before, after)
    assert kills == 0, f"the OOM killer fired {kills} time(s) in {after['ControlGroup']}"
    assert 0 < peak_anon < cap_mib, f"anonymous RSS peaked at {peak_anon:.0f} MiB, cap {cap_mib:.0f} MiB"


def test_site_at_vvv_never_prints_a_backend_password(lab):
    password = f"rel-secret-{secrets.token_hex(12)}"
    spec = stack_spec()  # with the persistent queue again: this restores site.yml's default
    spec["backends"]["traces"]["auth"] = {"username": "reliability", "password": password}
    # The lab's collector build has no basicauth extension: naming it as the
    # spec's distribution makes the filter send the credentials as a header.
    spec["distribution"] = yaml.safe_load((REPO / "lab" / "otelcol-builder.yaml").read_text())
    run = site("-vvv", extra_vars={"lgtm_stack_collector_spec": spec})
    output = run.stdout + run.stderr
    assert run.returncode == 0, failed_tasks(run)
    # The password did reach the collector (as basicauth or as a Basic header)...
    config = lab.file("/etc/otelcol/config.yaml").content_string
    basic = base64.b64encode(f"reliability:{password}".encode()).decode()
    assert password in config or basic in config, "the password never reached the collector's config"
    assert lab.file("/etc/otelcol/config.yaml").contains("file_storage/queue")
    # ...and never the output, in the clear or as the Basic credential.
    leaks = [line[:300] for line in output.splitlines() if password in line or basic in line]
    assert not leaks, f"site.yml -vvv printed the backend password ({len(leaks)} lines):\n" + "\n".join(leaks[:10])
    FIGURES.append(f"FIGURES-RELIABILITY secrets site_vvv_output_lines={len(output.splitlines())} "
                   f"password_lines={len(leaks)}")
    print("\n" + FIGURES[-1])
