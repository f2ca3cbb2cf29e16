"""The traced request, proven the way a user sees it: through Grafana's HTTP API.

Shared by the `default` (all-in-one) and `distributed` scenarios. Orders go to
the demo shop's front service; everything after that is read back through
Grafana only (datasource proxy and /api/ds/query, authenticated with the
provisioned admin password), plus Tempo's own client as a second witness.
When a check fails, the message says what was queried, what came back and the
last journal lines of the service that should have answered.
"""
from __future__ import annotations

import json
import os
import pathlib
import statistics
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

import testinfra
from testinfra.utils.ansible_runner import AnsibleRunner

INVENTORY = os.environ.get("MOLECULE_INVENTORY_FILE", "")
EPHEMERAL = pathlib.Path(os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", "."))
GRAFANA = "http://127.0.0.1:3000"
ORDERS = 5


def group_host(group: str) -> Any:
    """The testinfra host of the first host of an inventory group."""
    name = AnsibleRunner(INVENTORY).get_hosts(group)[0]
    return testinfra.get_host(f"ansible://{name}", ansible_inventory=INVENTORY)


def journal(host: Any, unit: str, lines: int = 30) -> str:
    return host.run(f"journalctl -u {unit} -n {lines} --no-pager").stdout


def admin_password() -> str:
    return (EPHEMERAL / "grafana-admin-password").read_text().strip()


@dataclass
class Grafana:
    """Grafana's HTTP API on its host, called with curl there."""
    host: Any
    password: str
    calls: list[str] = field(default_factory=list)

    def get(self, path: str, **params: str) -> tuple[int, Any]:
        url = f"{GRAFANA}{path}" + (f"?{urllib.parse.urlencode(params)}" if params else "")
        return self._curl(url)

    def post(self, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        return self._curl(f"{GRAFANA}{path}", body)

    def _curl(self, url: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        self.calls.append(url if body is None else f"POST {url} {json.dumps(body)}")
        command = "curl -sS -o /dev/stdout -w '\\n%%{http_code}' -u %s %s"
        args = [f"admin:{self.password}", url]
        if body is not None:
            command += " -H 'Content-Type: application/json' --data-binary %s"
            args.append(json.dumps(body))
        result = self.host.run(command, *args)
        text, status = (result.stdout.rsplit("\n", 1) + [""])[:2]
        try:
            return int(status), json.loads(text)
        except ValueError:
            return int(status or 0), text

    def explain(self, what: str, response: Any, unit: str, unit_host: Any) -> str:
        """Failure message: the query, the answer, the journal of the service that should know."""
        return (f"{what}\n  queried: {self.calls[-1] if self.calls else '(nothing)'}\n"
                f"  answer: {json.dumps(response)[:2000]}\n"
                f"  last journal lines of {unit}:\n{journal(unit_host, unit)}")

    def loki_lines(self, query: str, since_s: int = 900) -> tuple[list[str], Any]:
        now_ms = int(time.time() * 1000)
        status, answer = self.post("/api/ds/query", {
            "from": str(now_ms - since_s * 1000), "to": str(now_ms + 60_000),
            "queries": [{"refId": "A", "datasource": {"uid": "lgtm-loki"}, "expr": query,
                         "queryType": "range", "maxLines": 100}]})
        lines = []
        if status == 200:
            for frame in answer.get("results", {}).get("A", {}).get("frames", []):
                for fld, values in zip(frame["schema"]["fields"], frame["data"]["values"]):
                    if fld["name"] == "Line":
                        lines.extend(values)
        return lines, answer

    def prometheus(self, query: str) -> tuple[list[dict[str, Any]], Any]:
        status, answer = self.get("/api/datasources/proxy/uid/lgtm-mimir/api/v1/query", query=query)
        result = answer.get("data", {}).get("result", []) if status == 200 and isinstance(answer, dict) else []
        return result, answer

    def trace(self, trace_id: str) -> dict[str, Any] | None:
        status, answer = self.get(f"/api/datasources/proxy/uid/lgtm-tempo/api/v2/traces/{trace_id}")
        return answer if status == 200 and isinstance(answer, dict) and answer.get("trace") else None


def place_order(demo: Any, order_id: str) -> str:
    """POST one order to the front service; return the trace ID it reports."""
    answer = json.loads(demo.check_output(
        "curl -fsS -H 'Content-Type: application/json' --data-binary %s http://127.0.0.1:8080/orders",
        json.dumps({"order_id": order_id})))
    assert answer["order_id"] == order_id, answer
    return answer["trace_id"]


def wait_for(probe, seconds: float = 60.0, interval: float = 0.5):
    """Call probe until it returns something truthy or time runs out."""
    deadline = time.monotonic() + seconds
    result = probe()
    while not result and time.monotonic() < deadline:
        time.sleep(interval)
        result = probe()
    return result


def spans_of(trace: dict[str, Any]) -> list[dict[str, Any]]:
    """Flatten a Tempo v2 trace into spans carrying their service name."""
    spans = []
    for resource_spans in trace["trace"]["resourceSpans"]:
        attributes = {a["key"]: a["value"].get("stringValue") for a in resource_spans["resource"]["attributes"]}
        for scope_spans in resource_spans["scopeSpans"]:
            for span in scope_spans["spans"]:
                spans.append({**span, "service": attributes.get("service.name")})
    return spans


def attribute(span: dict[str, Any], key: str) -> Any:
    for attr in span.get("attributes", []):
        if attr["key"] == key:
            return next(iter(attr["value"].values()))
    return None


def converge_timings() -> list[float]:
    """Seconds of each converge run, as the scenario's converge.yml recorded them."""
    path = EPHEMERAL / "converge-seconds"
    return [float(line) for line in path.read_text().split()] if path.exists() else []


def record_figures(figures: dict[str, Any]) -> None:
    """Print the figures and keep them next to the scenario's state."""
    (EPHEMERAL / "figures.json").write_text(json.dumps(figures, indent=2) + "\n")
    print("\nFIGURES " + json.dumps(figures))


def traced_orders(grafana: Grafana, demo: Any) -> list[dict[str, Any]]:
    """Place ORDERS orders; for each, time until Grafana returns its full trace."""
    orders = []
    for number in range(ORDERS):
        order_id = f"molecule-{int(time.time())}-{number}"
        sent = time.monotonic()
        trace_id = place_order(demo, order_id)

        def complete(trace_id=trace_id):
            # Visible means both services' spans are there, not just the first batch.
            found = grafana.trace(trace_id)
            return found if found and {s["service"] for s in spans_of(found)} >= {"shop-front", "shop-back"} else None
        trace = wait_for(complete)
        orders.append({"order_id": order_id, "trace_id": trace_id, "trace": trace,
                       "visible_after_s": round(time.monotonic() - sent, 3) if trace else None})
    return orders


def figures_of(orders: list[dict[str, Any]]) -> dict[str, Any]:
    visible = [o["visible_after_s"] for o in orders if o["visible_after_s"] is not None]
    timings = converge_timings()
    return {
        "orders": len(orders),
        "trace_visible_in_grafana_s": {"median": statistics.median(visible) if visible else None,
                                       "all": visible},
        "converge_s": timings[-2] if len(timings) >= 2 else (timings[-1] if timings else None),
        "idempotent_rerun_s": timings[-1] if len(timings) >= 2 else None,
    }
