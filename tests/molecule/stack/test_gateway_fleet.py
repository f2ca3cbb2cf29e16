"""Several gateway hosts (the distributed scenario has two): the agents send each trace whole to
one of them by trace ID (load_balancing over a fixed list), and losing a gateway or changing the
tier loses nothing.

Counted load (telemetrygen from the controller, each item tagged with its run's id) goes to the
demo host's agent while one gateway's collector is stopped for a while, and again while site.yml
changes every gateway's configuration (`serial: 1`: one gateway restarts at a time). Each run
counts, per signal, what was sent, what the backends store, the copies among them (a request the
load balancer retried whole), and the traces whose spans two gateways handled (every gateway
names its data, collector.gateway). The control: spans of one trace sent to both gateways
directly, as agents without routing by trace ID would, are found split, every trace. Skipped
where the inventory has one gateway host.
"""
from __future__ import annotations

import json
import os
import threading
import time
import urllib.request
import uuid
from typing import Any, Callable

import pytest
import testinfra
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span
from lgtm_stack import (INVENTORY, Http, backend_of, distinct_logs, distinct_spans, docker_addresses, group_hosts,
                        logs_api, metrics_api, run_traces, send_counted_until, site, stack_access, stored_counted, traces_api,
                        wait_for)

GATEWAYS = group_hosts("otel_collector")
pytestmark = pytest.mark.skipif(len(GATEWAYS) < 2, reason="the inventory has one gateway host")
RATE = 20
OUTAGE_S = 10
CONTROL_TRACES = 20
SERVICE = "fleet"
METRIC = "fleet_gen"


@pytest.fixture(scope="module")
def apis() -> dict[str, Http]:
    access = stack_access()
    return {"traces": traces_api(backend_of("traces"), access), "metrics": metrics_api(backend_of("metrics"), access),
            "logs": logs_api(backend_of("logs"), access)}


@pytest.fixture(scope="module")
def agent_address() -> str:
    """The demo host's agent, which balances over the gateways."""
    addresses, _gateway = docker_addresses(group_hosts("demo")[0])
    return sorted(addresses)[0]


def trace_gateways(api: Http, run_id: str) -> dict[str, set[str]]:
    """For every trace of a run, the gateways that handled its spans (Jaeger's query API)."""
    traces = run_traces(api, run_id, SERVICE)
    assert traces, f"Jaeger returned no trace of run {run_id}"
    found: dict[str, set[str]] = {}
    for item in traces:
        processes = {pid: {tag["key"]: tag["value"] for tag in process.get("tags", [])}
                     for pid, process in item["processes"].items()}
        found[item["traceID"]] = {processes[span["processID"]].get("collector.gateway", "") for span in item["spans"]}
    return found


def counted_run(apis: dict[str, Http], address: str, fault: Callable[[], Any], label: str) -> dict[str, Any]:
    """Counted load to the agent from 10 s before `fault` until a while after it is over (however
    long it takes); the counts once every backend has all it will get."""
    run_id = f"{label}-{uuid.uuid4().hex[:8]}"
    sent: dict[str, int] = {}
    done = threading.Event()
    sender = threading.Thread(target=lambda: sent.update(
        send_counted_until(done, address, run_id, RATE, service=SERVICE, metric=METRIC)))
    sender.start()
    time.sleep(10)
    started = time.monotonic()
    try:
        fault()
    finally:
        fault_s = time.monotonic() - started
        done.set()
        sender.join()

    def all_stored() -> dict[str, int] | None:
        now = stored_counted(apis, run_id, SERVICE, METRIC)
        return now if now == sent else None
    stored = wait_for(all_stored, seconds=240, interval=5) or stored_counted(apis, run_id, SERVICE, METRIC)
    distinct = {"traces": distinct_spans(apis["traces"], run_id, SERVICE), "logs": distinct_logs(apis["logs"], run_id)}
    split = [trace for trace, gateways in trace_gateways(apis["traces"], run_id).items() if len(gateways) != 1]
    figures = {"run": label, "sent": sent, "stored": stored,
               "duplicates": {signal: stored[signal] - distinct[signal] for signal in distinct},
               "split_traces": len(split), "fault_s": round(fault_s, 1)}
    print("\nFIGURES-FLEET " + json.dumps(figures))
    return figures


def test_a_gateway_stopped_during_load_loses_nothing_and_no_trace_is_split(apis, agent_address):
    second = testinfra.get_host(f"ansible://{GATEWAYS[1]}", ansible_inventory=INVENTORY)

    def outage() -> None:
        second.check_output("systemctl stop otelcol")
        time.sleep(OUTAGE_S)
        second.check_output("systemctl start otelcol")

    figures = counted_run(apis, agent_address, outage, "gateway-stopped")
    assert figures["stored"] == figures["sent"], figures
    assert figures["split_traces"] == 0, figures


def test_a_serial_change_of_every_gateway_during_load_loses_nothing(apis, agent_address):
    changed: dict[str, Any] = {}

    def change() -> None:
        # A new resource attribute value: every gateway's configuration changes and each restarts, in turn.
        run = site("--tags", "otel_collector", extra_vars={"lgtm_environment": f"fleet-{uuid.uuid4().hex[:6]}"})
        changed["run"] = run

    figures = counted_run(apis, agent_address, change, "serial-change")
    run = changed["run"]
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    # Each gateway host restarted, one after the other (serial: 1 gives each its own play batch).
    tasks = run.stdout.split("TASK [")
    restarted = [host for task in tasks if task.startswith("observability.lgtm.common : Restart for new files")
                 for host in GATEWAYS if f"changed: [{host}]" in task]
    assert sorted(restarted) == sorted(GATEWAYS), restarted
    assert figures["stored"] == figures["sent"], figures
    assert figures["split_traces"] == 0, figures


def attribute(key: str, value: str) -> KeyValue:
    return KeyValue(key=key, value=AnyValue(string_value=value))


def send_span(address: str, run_id: str, trace_id: bytes, span_id: bytes, parent_id: bytes, name: str) -> None:
    """One span over OTLP/HTTP to a collector's port 4318, tagged with the run's id as telemetrygen tags its spans."""
    now = time.time_ns()
    span = Span(trace_id=trace_id, span_id=span_id, parent_span_id=parent_id, name=name, kind=Span.SPAN_KIND_INTERNAL,
                start_time_unix_nano=now - 1_000_000, end_time_unix_nano=now, attributes=[attribute("run.id", run_id)])
    body = ExportTraceServiceRequest(resource_spans=[ResourceSpans(
        resource=Resource(attributes=[attribute("service.name", SERVICE)]),
        scope_spans=[ScopeSpans(spans=[span])])]).SerializeToString()
    request = urllib.request.Request(f"http://{address}:4318/v1/traces", data=body, method="POST",
                                     headers={"Content-Type": "application/x-protobuf"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        assert answer.status == 200, answer.status


def test_control_spans_of_one_trace_sent_to_both_gateways_are_found_split(apis):
    """The control of the split count above: without routing by trace ID (a root span sent to one
    gateway, its child to the other, as agents that spread spans round-robin would), every trace
    is stored with spans that both gateways handled, and the check counts each as split."""
    run_id = f"split-control-{uuid.uuid4().hex[:8]}"
    first, second = (sorted(docker_addresses(host)[0])[0] for host in GATEWAYS[:2])
    traces = [(os.urandom(16), os.urandom(8)) for trace in range(CONTROL_TRACES)]
    for trace_id, root in traces:
        send_span(first, run_id, trace_id, root, b"", "control-root")
        send_span(second, run_id, trace_id, os.urandom(8), root, "control-child")

    def all_stored() -> dict[str, set[str]] | None:
        traces = {trace["traceID"]: len(trace["spans"]) for trace in run_traces(apis["traces"], run_id, SERVICE)}
        return (trace_gateways(apis["traces"], run_id)
                if len(traces) == CONTROL_TRACES and set(traces.values()) == {2} else None)
    found = wait_for(all_stored, seconds=120, interval=5)
    assert found, f"Jaeger did not return {CONTROL_TRACES} traces of 2 spans for run {run_id}"
    split = [trace for trace, gateways in found.items() if len(gateways) == 2]
    print("\nFIGURES-FLEET " + json.dumps({"run": "split-control", "traces": CONTROL_TRACES, "split_traces": len(split)}))
    assert len(split) == CONTROL_TRACES, found
