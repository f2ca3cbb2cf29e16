"""The traced request, proven through the backends' own query APIs.

Shared by the stack scenarios (`default`, `distributed` on the Apache-licensed
backends; `default_lgtm`, `distributed_lgtm` on the Grafana stack). Orders go
to the demo shop's front service; the trace, the log line and the request
counter are then read back from whichever backend the inventory gave each
signal, on that backend's host, through its own HTTP API. Where the inventory
has Grafana, its datasources are checked too (test_stack.py). When a check
fails, the message says what was queried, what came back and the last journal
lines of the service that should have answered.
"""
from __future__ import annotations

import base64
import functools
import json
import math
import os
import pathlib
import re
import statistics
import subprocess
import tempfile
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Any, Callable

import testinfra
from testinfra.utils.ansible_runner import AnsibleRunner

INVENTORY = os.environ.get("MOLECULE_INVENTORY_FILE", "")
EPHEMERAL = pathlib.Path(os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", "."))
REPO = pathlib.Path(__file__).resolve().parents[2]
# Enough orders for a p95 that means something (the 95th percentile of 20 is the 19th).
ORDERS = 20
# How often a test asks the traces backend for an order's trace: fine enough
# that the wait itself adds little to the request-to-trace figure.
TRACE_POLL_S = 0.1

# The backends each signal can go to (roles/wiring/defaults/main.yml).
SIGNAL_BACKENDS = {"traces": ("tempo", "jaeger"), "metrics": ("mimir", "prometheus"),
                   "logs": ("loki", "victorialogs")}
# Service (unit) names where they differ from the group name.
UNITS = {"otel_collector": "otelcol"}
# OTLP span kinds: Jaeger's API gives the number, Tempo's the enum name.
SPAN_KINDS = {1: "SPAN_KIND_INTERNAL", 2: "SPAN_KIND_SERVER", 3: "SPAN_KIND_CLIENT",
              4: "SPAN_KIND_PRODUCER", 5: "SPAN_KIND_CONSUMER"}


# The inventory is fixed while a scenario verifies; reading it costs an
# ansible-inventory run (about 0.3 s), which must not land inside the timed polls.
@functools.lru_cache(maxsize=None)
def runner() -> AnsibleRunner:
    return AnsibleRunner(INVENTORY)


@functools.lru_cache(maxsize=None)
def group_hosts(group: str) -> tuple[str, ...]:
    try:
        return tuple(runner().get_hosts(group))
    except (RuntimeError, KeyError):
        return ()


@functools.lru_cache(maxsize=None)
def group_host(group: str) -> Any:
    """The testinfra host of the first host of an inventory group."""
    name = group_hosts(group)[0]
    return testinfra.get_host(f"ansible://{name}", ansible_inventory=INVENTORY)


def docker_addresses(name: str) -> tuple[set[str], str]:
    """A lab host's addresses on its networks and the controller's address (the gateway) on its first."""
    networks = json.loads(subprocess.run(["docker", "inspect", "--format", "{{json .NetworkSettings.Networks}}", name],
                                         check=True, capture_output=True, text=True).stdout)
    return {n["IPAddress"] for n in networks.values()}, next(iter(networks.values()))["Gateway"]


def backend_of(signal: str) -> str:
    """The backend whose inventory group has a host, as site.yml's wiring chose it."""
    present = [name for name in SIGNAL_BACKENDS[signal] if group_hosts(name)]
    assert len(present) == 1, f"{signal}: inventory has {present or 'none'} of {SIGNAL_BACKENDS[signal]}"
    return present[0]


def journal(host: Any, unit: str, lines: int = 30) -> str:
    return host.run(f"journalctl -u {unit} -n {lines} --no-pager").stdout


@dataclass(frozen=True)
class Access:
    """How a client reaches the stack: plain HTTP (the default), or HTTPS trusting
    the CA the lifecycle installed on the component's host, with basic-auth
    credentials where given."""
    tls: bool = False
    credentials: dict[str, str] = field(default_factory=dict)   # component -> "user:password"

    @property
    def scheme(self) -> str:
        return "https" if self.tls else "http"

    def ca_file(self, component: str) -> str | None:
        """The CA on the component's own host (roles/common: <config dir>/tls/ca.crt)."""
        return f"/etc/{UNITS.get(component, component)}/tls/ca.crt" if self.tls else None


PLAIN = Access()
# The OTLP trace export method a plain-text gRPC client is refused at (the tls scenarios).
OTLP_GRPC_PATH = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
# Where a scenario with TLS keeps the secrets it generated (molecule/tls/molecule.yml).
SECRETS = EPHEMERAL / "secrets"
# The password each backend checks, when the scenario generated one (username "collector").
# Jaeger checks none at its pinned release (2.12.0 has no basicauth extension; the role
# refuses users for it), so the scenarios give it none.
PASSWORD_FILES = {"prometheus": SECRETS / "metrics-password", "victorialogs": SECRETS / "logs-password"}


@functools.lru_cache(maxsize=None)
def stack_access() -> Access:
    """The access the scenario's inventory set up: TLS when lgtm_tls is on, and
    each backend's basic auth when the scenario generated its password."""
    hosts = group_hosts("otel_collector")
    if not hosts or not runner().get_variables(hosts[0]).get("lgtm_tls"):
        return PLAIN
    credentials = {backend: f"collector:{path.read_text().strip()}"
                   for backend, path in PASSWORD_FILES.items() if path.exists()}
    return Access(tls=True, credentials=credentials)


@dataclass
class Http:
    """A component's HTTP API on its own host, called with curl there."""
    component: str
    base: str
    auth: str | None = None
    calls: list[str] = field(default_factory=list)
    ca_file: str | None = None

    @functools.cached_property
    def host(self) -> Any:
        return group_host(self.component)

    def get(self, path: str, **params: str) -> tuple[int, Any]:
        return self.call(f"{self.base}{path}" + (f"?{urllib.parse.urlencode(params)}" if params else ""))

    def post(self, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        return self.call(f"{self.base}{path}", body)

    def call(self, url: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        self.calls.append(url if body is None else f"POST {url} {json.dumps(body)}")
        command = "curl -sS -o /dev/stdout -w '\\n%%{http_code}'"
        args: list[str] = []
        if self.auth:
            command += " -u %s"
            args.append(self.auth)
        if self.ca_file:
            command += " --cacert %s"
            args.append(self.ca_file)
        command += " %s"
        args.append(url)
        if body is not None:
            command += " -H 'Content-Type: application/json' --data-binary %s"
            args.append(json.dumps(body))
        result = self.host.run(command, *args)
        text, status = (result.stdout.rsplit("\n", 1) + [""])[:2]
        try:
            return int(status), json.loads(text)
        except ValueError:
            return int(status or 0), text

    def explain(self, what: str, response: Any) -> str:
        """Failure message: the query, the answer, the journal of the service that should know."""
        unit = UNITS.get(self.component, self.component)
        return (f"{what}\n  queried: {self.calls[-1] if self.calls else '(nothing)'}\n"
                f"  answer: {json.dumps(response)[:2000]}\n"
                f"  last journal lines of {unit}:\n{journal(self.host, unit)}")


# --- reading each signal back, per backend ------------------------------------

def api(backend: str, port: int, access: Access, path: str = "") -> Http:
    return Http(backend, f"{access.scheme}://127.0.0.1:{port}{path}", auth=access.credentials.get(backend),
                ca_file=access.ca_file(backend))


def traces_api(backend: str, access: Access = PLAIN) -> Http:
    return api(backend, {"tempo": 3200, "jaeger": 16686}[backend], access)


def trace(api: Http, trace_id: str) -> list[dict[str, Any]] | None:
    """The spans of a trace, each with its service name and a kind name, or None."""
    if api.component == "jaeger":
        status, answer = api.get(f"/api/v3/traces/{trace_id}")
        body = answer.get("result") if status == 200 and isinstance(answer, dict) else None
    else:
        status, answer = api.get(f"/api/v2/traces/{trace_id}")
        body = answer.get("trace") if status == 200 and isinstance(answer, dict) else None
    if not body:
        return None
    spans = []
    for resource_spans in body.get("resourceSpans", []):
        attributes = {a["key"]: a["value"].get("stringValue") for a in resource_spans["resource"]["attributes"]}
        for scope_spans in resource_spans["scopeSpans"]:
            for span in scope_spans["spans"]:
                kind = span.get("kind")
                spans.append({**span, "service": attributes.get("service.name"),
                              "kind": SPAN_KINDS.get(kind, kind), "resource": attributes})
    return spans or None


def metrics_api(backend: str, access: Access = PLAIN) -> Http:
    return api(backend, {"mimir": 9009, "prometheus": 9090}[backend], access, "/prometheus" if backend == "mimir" else "")


def query_result(status: int, answer: Any) -> list[dict[str, Any]]:
    """The series of a Prometheus-style query answer (`data.result`, which VictoriaLogs' stats queries answer
    too); empty when the call failed."""
    return answer.get("data", {}).get("result", []) if status == 200 and isinstance(answer, dict) else []


def instant_query(api: Http, query: str) -> list[dict[str, Any]]:
    return query_result(*api.get("/api/v1/query", query=query))


def logs_api(backend: str, access: Access = PLAIN) -> Http:
    return api(backend, {"loki": 3100, "victorialogs": 9428}[backend], access)


def log_lines(api: Http, service: str, trace_id: str, since_s: int = 900) -> list[str]:
    """Log lines of a service that carry a trace ID, as the backend stores them."""
    if api.component == "victorialogs":
        status, answer = api.get("/select/logsql/query",
                                 query=f'trace_id:="{trace_id}" AND service.name:="{service}"')
        text = answer if isinstance(answer, str) else json.dumps(answer)
        return [json.loads(line)["_msg"] for line in text.splitlines() if line.strip()] if status == 200 else []
    now_ns = time.time_ns()
    status, answer = api.get("/loki/api/v1/query_range", query=f'{{service_name="{service}"}} | trace_id="{trace_id}"',
                             start=str(now_ns - since_s * 10**9), end=str(now_ns + 60 * 10**9), limit="100")
    if status != 200 or not isinstance(answer, dict):
        return []
    return [line for stream in answer["data"]["result"] for _ts, line in stream["values"]]


# --- the orders ----------------------------------------------------------------

def place_order(demo: Any, order_id: str) -> str:
    """POST one order to the front service; return the trace ID it reports."""
    answer = json.loads(demo.check_output(
        "curl -fsS -H 'Content-Type: application/json' --data-binary %s http://127.0.0.1:8080/orders",
        json.dumps({"order_id": order_id})))
    assert answer["order_id"] == order_id, answer
    return answer["trace_id"]


def wait_for(probe: Callable[[], Any], seconds: float = 60.0, interval: float = 0.5) -> Any:
    """Call probe until it returns something truthy or time runs out."""
    deadline = time.monotonic() + seconds
    result = probe()
    while not result and time.monotonic() < deadline:
        time.sleep(interval)
        result = probe()
    return result


def attribute(span: dict[str, Any], key: str) -> Any:
    for attr in span.get("attributes", []):
        if attr["key"] == key:
            return next(iter(attr["value"].values()))
    return None


def assert_context_crossed_the_hop(spans: list[dict[str, Any]]) -> None:
    """The back service's server span has the front service's client span as
    parent: W3C trace context crossed the HTTP hop between the two services."""
    by_id = {s["spanId"]: s for s in spans}
    back_server = [s for s in spans if s["service"] == "shop-back" and s["kind"] == "SPAN_KIND_SERVER"]
    assert back_server, spans
    parent = by_id.get(back_server[0].get("parentSpanId"))
    assert parent is not None, f"back span's parent is not in the trace: {spans}"
    assert parent["service"] == "shop-front" and parent["kind"] == "SPAN_KIND_CLIENT", parent
    assert all(s["traceId"] == spans[0]["traceId"] for s in spans)


def complete_trace(api: Http, trace_id: str) -> list[dict[str, Any]] | None:
    """The order's trace once it is whole, else None. Whole means the back
    service's spans and the front's root span: the root ends last in its
    service, so its export carries (or follows) every other front span."""
    spans = trace(api, trace_id)
    if not spans or {s["service"] for s in spans} < {"shop-front", "shop-back"}:
        return None
    return spans if any(s["service"] == "shop-front" and not s.get("parentSpanId") for s in spans) else None


def traced_orders(api: Http, demo: Any) -> list[dict[str, Any]]:
    """Place ORDERS orders; for each, time until the traces backend returns its full trace."""
    orders = []
    for number in range(ORDERS):
        order_id = f"molecule-{int(time.time())}-{number}"
        sent = time.monotonic()
        trace_id = place_order(demo, order_id)

        spans = wait_for(lambda trace_id=trace_id: complete_trace(api, trace_id), interval=TRACE_POLL_S)
        orders.append({"order_id": order_id, "trace_id": trace_id, "spans": spans,
                       "visible_after_s": round(time.monotonic() - sent, 3) if spans else None})
    return orders


# --- counted load: telemetrygen on the controller, counted back per backend -----

CHILD_SPANS = 1                # telemetrygen's default: each trace is a root span and one child


def unit_properties(host: Any, unit: str, *names: str) -> dict[str, str]:
    """The named systemd properties of a unit on a lab host (`systemctl show -p ...`)."""
    output = host.check_output("systemctl show " + " ".join(f"-p {name}" for name in names) + f" {unit}")
    return dict(line.split("=", 1) for line in output.splitlines())


def changed_counts(run: Any) -> dict[str, int]:
    """changed=N per host, from an ansible-playbook run's recap (in colour too: Molecule forces it)."""
    plain = re.sub(r"\x1b\[[0-9;]*m", "", run.stdout)
    recap = re.findall(r"^(\S+)\s+:\s+ok=\d+\s+changed=(\d+)", plain, re.MULTILINE)
    return {host: int(changed) for host, changed in recap}


def private_key_material(pem: str) -> list[str]:
    """What of a private key must never be printed: its whole body (as written, and JSON-escaped), its first
    base64 line (an EC key's private scalar sits there; the later lines hold the public point, which is
    public), and the private scalar itself in hex and base64."""
    from cryptography.hazmat.primitives.serialization import load_pem_private_key
    lines = pem.strip().splitlines()
    body = lines[1:-1]
    scalar = load_pem_private_key(pem.encode(), password=None).private_numbers().private_value
    raw = scalar.to_bytes((scalar.bit_length() + 7) // 8, "big")
    return ["".join(body), "\\n".join(body), body[0], raw.hex(), base64.b64encode(raw).decode()]


def leaked_secrets(output: str, ca_dir: pathlib.Path, token: str, user: str,
                   passwords: list[str]) -> tuple[dict[str, list[str]], int]:
    """The lines of a run's output (their first 200 characters) that hold a secret the run was given, by kind:
    the bearer token, a password or its Basic credential as `user`, or material of a private key the
    collection's CA in ca_dir made (its own and every host's); and how many keys were checked."""
    keys = [path.read_text() for path in [ca_dir / "ca.key", *sorted((ca_dir / "hosts").glob("*.key"))]]
    secrets = {"token": [token],
               "passwords": passwords + [base64.b64encode(f"{user}:{item}".encode()).decode() for item in passwords],
               "private keys": [part for key in keys for part in private_key_material(key)]}
    return ({name: [line[:200] for line in output.splitlines() if any(s and s in line for s in values)]
             for name, values in secrets.items()}, len(keys))


@functools.lru_cache(maxsize=None)
def telemetrygen() -> str:
    """The lab's telemetrygen binary (lab/mirror.py builds it), or LGTM_TELEMETRYGEN."""
    return os.environ.get("LGTM_TELEMETRYGEN") or subprocess.run(
        [os.environ.get("LGTM_PYTHON", "python3"), str(REPO / "lab" / "mirror.py"), "path", "telemetrygen"],
        check=True, capture_output=True, text=True).stdout.strip()


def send_counted(address: str, run_id: str, seconds: int, rate: int, service: str, metric: str,
                 port: int = 4317) -> dict[str, int]:
    """Send `rate` spans, log records and metric points a second for `seconds`, the
    three in parallel, to a collector's OTLP gRPC port at address (the stack's, 4317,
    unless told), each tagged with run.id; return the counts sent (telemetrygen exits
    non-zero on a refused export)."""
    count = rate * seconds
    # telemetrygen's rate counts spans, so a trace of 1 + CHILD_SPANS spans takes that many turns.
    traces = count // (1 + CHILD_SPANS)
    common = ["--otlp-endpoint", f"{address}:{port}", "--otlp-insecure", "--rate", str(rate), "--workers", "1",
              "--service", service, "--telemetry-attributes", f'run.id="{run_id}"']
    commands = {
        "traces": [telemetrygen(), "traces", "--traces", str(traces), "--child-spans", str(CHILD_SPANS), *common],
        "logs": [telemetrygen(), "logs", "--logs", str(count), *common],
        # A gauge, one point per 1/rate s. telemetrygen takes a point's timestamp
        # before its rate limiter waits, so the first two points of a run share a
        # millisecond, and Prometheus keeps one sample per series and timestamp.
        # --unique-timeseries gives the points of each second their own series
        # (a `timebox` label, 1 to rate), so every point is a sample of its own.
        "metrics": [telemetrygen(), "metrics", "--metrics", str(count), "--metric-type", "Gauge",
                    "--unique-timeseries", "--otlp-metric-name", metric, *common],
    }
    running = {signal: subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
               for signal, command in commands.items()}
    for signal, process in running.items():
        output = process.communicate(timeout=seconds * 3 + 60)[0]
        assert process.returncode == 0, f"telemetrygen {signal} failed:\n{output[-3000:]}"
    return {"traces": traces * (1 + CHILD_SPANS), "logs": count, "metrics": count}


def send_counted_until(done: threading.Event, address: str, run_id: str, rate: int, service: str, metric: str,
                       segment: int = 20) -> dict[str, int]:
    """Counted load as send_counted gives, in runs of `segment` seconds one after the other, until
    `done` is set and one more run after that: a fault under this load is under load from its start
    to past its end, however long it takes on a busy machine. Return the counts sent."""
    sent = {"traces": 0, "logs": 0, "metrics": 0}
    last = False
    while not last:
        last = done.is_set()
        for signal, count in send_counted(address, run_id, segment, rate, service, metric).items():
            sent[signal] += count
    return sent


def run_traces(api: Http, run_id: str, service: str) -> list[dict[str, Any]]:
    """The traces of a run as Jaeger's query API returns them (spans and processes); none on an error."""
    status, answer = api.get("/api/traces", service=service, tags=json.dumps({"run.id": run_id}),
                             limit="100000", lookback="2h")
    if status != 200 or not isinstance(answer, dict):
        return []
    return answer.get("data") or []


def run_span_ids(api: Http, run_id: str, service: str) -> list[tuple[str, str]]:
    """(trace ID, span ID) of every span of a run that Jaeger returns through its query API, a span
    stored twice listed twice."""
    return [(trace["traceID"], span["spanID"]) for trace in run_traces(api, run_id, service) for span in trace["spans"]
            if any(tag["key"] == "run.id" and tag["value"] == run_id for tag in span.get("tags", []))]


def stored_spans(api: Http, run_id: str, service: str) -> int:
    """Spans of a run that Jaeger stores, through its query API."""
    return len(run_span_ids(api, run_id, service))


def logsql_stats(api: Http, query: str) -> dict[str, Any]:
    """The row of a LogsQL query ending in `| stats ...` on VictoriaLogs; empty when it has none."""
    status, answer = api.get("/select/logsql/query", query=query)
    if status != 200:
        return {}
    rows = [json.loads(line) for line in (answer if isinstance(answer, str) else json.dumps(answer)).splitlines()
            if line.strip()]
    return rows[0] if rows else {}


def logsql_range_stats(api: Http, query: str, seconds: int = 3600, step: str = "1m") -> list[dict[str, Any]]:
    """The series of a LogsQL range stats query over the last `seconds` on VictoriaLogs, as Grafana's VictoriaLogs
    data source asks for a time series panel's (/select/logsql/stats_query_range); empty when it has none."""
    now = int(time.time())
    return query_result(*api.get("/select/logsql/stats_query_range", query=query, start=str(now - seconds),
                                 end=str(now), step=step))


def stored_logs(api: Http, run_id: str) -> int:
    """Log records of a run that VictoriaLogs stores (LogsQL stats)."""
    return int(logsql_stats(api, f'_time:2h AND run.id:="{run_id}" | stats count() as n').get("n", 0))


def stored_points(api: Http, run_id: str, metric: str) -> int:
    """Metric points of a run that Prometheus stores: samples, not series,
    count_over_time over a window that holds the whole run."""
    result = instant_query(api, f'sum(count_over_time({metric}{{run_id="{run_id}"}}[2h]))')
    return int(float(result[0]["value"][1])) if result else 0


def distinct_spans(api: Http, run_id: str, service: str) -> int:
    """Distinct span IDs among the spans of a run that Jaeger stores (a span stored twice counts once)."""
    return len(set(run_span_ids(api, run_id, service)))


def distinct_logs(api: Http, run_id: str) -> int:
    """Distinct log records of a run that VictoriaLogs stores: telemetrygen stamps each record with the
    nanosecond it made it, so a record stored twice shares its _time with its copy."""
    return int(logsql_stats(api, f'_time:2h AND run.id:="{run_id}" | stats count_uniq(_time) as u').get("u", 0))


def stored_counted(apis: dict[str, Http], run_id: str, service: str, metric: str) -> dict[str, int]:
    """What each backend stores of one send_counted run, per signal."""
    return {"traces": stored_spans(apis["traces"], run_id, service), "logs": stored_logs(apis["logs"], run_id),
            "metrics": stored_points(apis["metrics"], run_id, metric)}


# --- site.yml from the verify step -------------------------------------------------

def site(*args: str, extra_vars: dict[str, Any] | None = None) -> subprocess.CompletedProcess:
    """Run site.yml on the scenario's inventory, as a user runs it, with extra vars when given."""
    command = ["ansible-playbook", "-i", INVENTORY, "observability.lgtm.site", *args]
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as extra:
        json.dump(extra_vars or {}, extra)
    try:
        return subprocess.run(command + ["-e", f"@{extra.name}"], capture_output=True, text=True, timeout=900,
                              check=False)
    finally:
        os.unlink(extra.name)


def failed_tasks(run: subprocess.CompletedProcess) -> str:
    """What made an ansible-playbook run fail: its failed tasks and errors, and the recap."""
    lines = (run.stdout + run.stderr).splitlines()
    picked = [line[:1500] for line in lines if line.startswith(("fatal:", "failed:", "[ERROR]", "ERROR!"))]
    return "\n".join(picked[-10:]) + "\n" + "\n".join(lines[-60:])


def converge_timings() -> list[float]:
    """Seconds of each converge run, as the scenario's converge.yml recorded them."""
    path = EPHEMERAL / "converge-seconds"
    return [float(line) for line in path.read_text().split()] if path.exists() else []


def latency_figures(orders: list[dict[str, Any]]) -> dict[str, Any]:
    """Median and p95 (nearest rank) of the request-to-complete-trace times, and all of them."""
    visible = sorted(o["visible_after_s"] for o in orders if o["visible_after_s"] is not None)
    return {"median": statistics.median(visible) if visible else None,
            "p95": visible[max(0, math.ceil(0.95 * len(visible)) - 1)] if visible else None,
            "all": visible}


def figures_of(orders: list[dict[str, Any]], traces_backend: str) -> dict[str, Any]:
    timings = converge_timings()
    return {
        "orders": len(orders),
        "traces_backend": traces_backend,
        "request_to_complete_trace_s": latency_figures(orders),
        "converge_s": timings[-2] if len(timings) >= 2 else (timings[-1] if timings else None),
        "idempotent_rerun_s": timings[-1] if len(timings) >= 2 else None,
    }


def record_figures(figures: dict[str, Any]) -> None:
    """Print the figures and keep them next to the scenario's state."""
    (EPHEMERAL / "figures.json").write_text(json.dumps(figures, indent=2) + "\n")
    print("\nFIGURES " + json.dumps(figures))
