"""Nothing lost through a backend outage and a collector restart, in numbers.

The lab host runs the collector and the three Apache-licensed backends
(Jaeger, Prometheus, VictoriaLogs), converged by site.yml. telemetrygen runs
on the controller and sends to the host's OTLP gRPC port over the Docker
network (no copy onto the host, and the sender is outside the host whose units
stop and restart). Every run tags its spans, log records and metric points
with a run ID, so only that run is counted, through each backend's own API.

The run, for each mode of the collector's queue:
  1. backends up: send a first share;
  2. stop jaeger, prometheus and victorialogs;
  3. send a second share (it waits in the collector's queue);
  4. restart otelcol while the backends are down;
  5. send a third share;
  6. start the backends once OUTAGE_S has passed since step 2;
  7. wait for the queue to drain, then count what each backend stored.
No sending is in flight across the restart itself: what is counted is what the
collector had accepted (telemetrygen exits non-zero on a refused export), so a
loss is the collector's, not the sender's.

With the persistent queue (site.yml's default) stored must equal sent for every
signal. With the queue in memory (site.yml re-run with the queue turned off
through the spec) the restart must lose spans: proof that the first test can
fail. Then a disk queue bounded to a few MiB, the logs backend down and more
logs offered than fit: the collector must refuse the rest with a retryable
answer, the sender resends it once the backend is back, and every record is
stored once. Then a burst far above a small memory limit, with the traces backend down:
the senders must see the collector refuse data (back-pressure), and the
collector must stay the same process, never OOM-killed, its anonymous memory
under the unit's MemoryMax. Last, site.yml at -vvv with a backend password in
the spec must not print that password anywhere.
"""
from __future__ import annotations

import base64
import copy
import json
import os
import secrets
import socket
import subprocess
import time
import urllib.error
import urllib.request
from typing import Any, Callable

import pytest
import yaml
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from lgtm_stack import (REPO, Http, failed_tasks, group_host, logs_api, logsql_stats, metrics_api, send_counted, site,
                        stored_counted, telemetrygen, traces_api, unit_properties)

STACK_VARS = REPO / "playbooks" / "vars" / "stack.yml"

RATE = 20                      # spans, log records, metric points a second (telemetrygen --rate, one worker)
SHARE_S = {"before": 5, "outage": 20, "after_restart": 20}   # seconds of sending in each share
OUTAGE_S = int(os.environ.get("LGTM_RELIABILITY_OUTAGE_S", "60"))
DRAIN_S = 120                  # the longest wait for the queue to drain
# The exporters' retry interval tops out at 30 s, plus up to 50% jitter: counts
# unchanged for longer than that, with the backends up, are final.
SETTLED_S = 50
BACKENDS = ("jaeger", "prometheus", "victorialogs")
FIGURES: list[str] = []


@pytest.fixture(scope="module")
def lab():
    return group_host("otel_collector")


@pytest.fixture(scope="module")
def address(lab):
    return lab.check_output("hostname -I").split()[0]


# --- sending ------------------------------------------------------------------

def send(address: str, run_id: str, seconds: int) -> dict[str, int]:
    """Send RATE items a second of each signal for `seconds`, in parallel; return the counts sent."""
    return send_counted(address, run_id, seconds, RATE, service="reliability", metric="reliability_gen")


def add(total: dict[str, int], more: dict[str, int]) -> None:
    for signal, count in more.items():
        total[signal] = total.get(signal, 0) + count


def systemctl(lab: Any, action: str, *units: str) -> None:
    lab.check_output("systemctl %s " + " ".join(["%s"] * len(units)), action, *units)


def collector_listening(address: str, seconds: float = 60) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((address, 4317), timeout=1):
                return True
        except OSError:
            time.sleep(0.5)
    return False


# --- counting, through each backend's own API --------------------------------------

def stored(apis: dict[str, Http], run_id: str) -> dict[str, int]:
    return stored_counted(apis, run_id, service="reliability", metric="reliability_gen")


def settled_counts(count: Callable[[], Any], expected: Any) -> tuple[Any, float]:
    """Count until the counts equal expected, stop changing for SETTLED_S, or DRAIN_S passes;
    return the last counts and the seconds until they stopped changing."""
    started = changed = time.monotonic()
    counts = count()
    while counts != expected and time.monotonic() - started < DRAIN_S and time.monotonic() - changed < SETTLED_S:
        time.sleep(3)
        before, counts = counts, count()
        if counts != before:
            changed = time.monotonic()
    return counts, (changed if counts != expected else time.monotonic()) - started


# --- the run ------------------------------------------------------------------

def outage_run(lab: Any, address: str, mode: str) -> dict[str, Any]:
    """Send through an outage with a collector restart in it; return sent and stored per signal."""
    apis = {"traces": traces_api("jaeger"), "logs": logs_api("victorialogs"), "metrics": metrics_api("prometheus")}
    run_id = f"rel-{mode}-{int(time.time())}-{secrets.token_hex(3)}"
    sent: dict[str, int] = {}
    assert collector_listening(address), "the collector's OTLP gRPC port does not answer"
    add(sent, send(address, run_id, SHARE_S["before"]))
    down = time.monotonic()
    systemctl(lab, "stop", *BACKENDS)
    try:
        add(sent, send(address, run_id, SHARE_S["outage"]))
        systemctl(lab, "restart", "otelcol")
        assert collector_listening(address), "the collector did not come back after its restart"
        add(sent, send(address, run_id, SHARE_S["after_restart"]))
        time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - down)))
    finally:
        outage = time.monotonic() - down
        systemctl(lab, "start", *BACKENDS)
    counts, drained = settled_counts(lambda: stored(apis, run_id), sent)
    for signal in ("traces", "logs", "metrics"):
        FIGURES.append(f"FIGURES-RELIABILITY queue={mode} signal={signal} sent={sent[signal]} "
                       f"stored={counts[signal]} lost={sent[signal] - counts[signal]} "
                       f"outage_s={outage:.0f} drain_s={drained:.0f}")
    print("\n" + "\n".join(FIGURES[-3:]))
    return {"run_id": run_id, "sent": sent, "stored": counts, "apis": apis}


def stack_spec() -> dict[str, Any]:
    return copy.deepcopy(yaml.safe_load(STACK_VARS.read_text())["lgtm_stack_collector_spec"])


def explain(result: dict[str, Any]) -> str:
    return json.dumps({"run_id": result["run_id"], "sent": result["sent"], "stored": result["stored"]})


# --- the tests ----------------------------------------------------------------

def test_persistent_queue_loses_nothing_through_outage_and_restart(lab, address):
    assert "directory" in stack_spec()["persistent_queue"], "site.yml's spec should keep a persistent queue"
    assert lab.file("/etc/otelcol/config.yaml").contains("file_storage/queue")
    result = outage_run(lab, address, "on")
    assert result["stored"] == result["sent"], explain(result)


def test_memory_queue_loses_data_through_the_same_run(lab, address):
    spec = stack_spec()
    spec["persistent_queue"] = {"enabled": False}
    run = site("--tags", "otel_collector", extra_vars={"lgtm_stack_collector_spec": spec})
    assert run.returncode == 0, failed_tasks(run)
    assert not lab.file("/etc/otelcol/config.yaml").contains("file_storage/queue")
    result = outage_run(lab, address, "off")
    lost = {signal: result["sent"][signal] - result["stored"][signal] for signal in result["sent"]}
    assert lost["traces"] > 0, f"the in-memory queue lost no spans through the restart: {explain(result)}"
    assert all(count >= 0 for count in lost.values()), f"more stored than sent: {explain(result)}"


# --- a full disk queue ------------------------------------------------------------

# Three disk queues (traces, metrics, logs) share the bound: 4 MiB each, the least the filter accepts.
FULL_QUEUE_MAX_MIB = 12
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


def post_logs(address: str, body: bytes) -> int:
    """POST one request to the collector's OTLP/HTTP port, as an OTLP sender does; the HTTP status."""
    request = urllib.request.Request(f"http://{address}:4318/v1/logs", data=body, method="POST",
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
    answers: dict[int, int] = {}
    refused: list[bytes] = []
    systemctl(lab, "stop", "victorialogs")
    try:
        for body in requests:
            status = post_logs(address, body)
            answers[status] = answers.get(status, 0) + 1
            assert status == 200 or status in RETRYABLE, f"the collector answered {status}, not retryable"
            if status != 200:
                refused.append(body)
        first_refusals = len(refused)
        # Still full while the backend is down: a resend is refused again, not dropped.
        time.sleep(5)
        assert refused and post_logs(address, refused[0]) in RETRYABLE, f"no refusal with the queue full: {answers}"
    finally:
        systemctl(lab, "start", "victorialogs")
    resends = 0
    deadline = time.monotonic() + RESEND_S
    while refused and time.monotonic() < deadline:
        status = post_logs(address, refused[0])
        resends += 1
        assert status == 200 or status in RETRYABLE, f"the collector answered {status}, not retryable"
        if status == 200:
            refused.pop(0)
        else:
            time.sleep(2)
    assert not refused, f"{len(refused)} requests still refused {RESEND_S} s after the backend came back"
    sent = FULL_QUEUE_OFFER["requests"] * FULL_QUEUE_OFFER["records"]
    counts = settled_counts(lambda: stored_logs_distinct(api, run_id), (sent, sent))[0]
    FIGURES.append(f"FIGURES-RELIABILITY full_queue max_mib={FULL_QUEUE_MAX_MIB} logs_share_mib=4 "
                   f"requests={FULL_QUEUE_OFFER['requests']} refused_first={first_refusals} resends={resends} "
                   f"sent={sent} stored={counts[0]} distinct={counts[1]}")
    print("\n" + FIGURES[-1])
    assert first_refusals > 0, f"the full queue refused nothing: {answers}"
    assert counts == (sent, sent), f"sent {sent}, stored {counts[0]}, of which distinct {counts[1]}"


# --- memory pressure ------------------------------------------------------------

BURST_LIMIT_MIB = 200          # the memory_limiter limit of the burst run: a unit cap (MemoryMax) of 250 MiB
BURST = {"workers": 8, "size_mb": 1, "batch": 4, "seconds": 20}   # 1 MiB spans, 8 senders, no rate limit
BURST_TIMEOUT_S = 90           # telemetrygen keeps retrying refused exports; it is stopped after this


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


def collector_counter(lab: Any, name: str) -> float:
    script = ("import urllib.request; print(sum(float(line.rsplit(' ', 1)[1]) for line in urllib.request"
              f".urlopen('http://127.0.0.1:8888/metrics').read().decode().splitlines() if line.startswith('{name}')))")
    return float(lab.check_output("python3 -c %s", script))


def test_burst_above_memory_limit_is_refused_without_oom_kill(lab, address):
    """A burst far above the memory limit: refused with back-pressure, no OOM kill, RSS under the unit's cap."""
    spec = stack_spec()
    spec["memory"] = {"limit_mib": BURST_LIMIT_MIB}
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
