"""Send one traced order through the lab stack and show where to find it.

Run by `make lab` after the all-in-one lab (Molecule scenario `default`, or
`default_lgtm` for the Grafana stack) has converged: places an order at the
demo shop, follows it through the backends' own query APIs (whichever serve
traces, metrics and logs) and prints the trace ID, the three queries that
found it and the URLs to look at.

    python lab/traced_request.py [scenario]
"""
from __future__ import annotations

import glob
import json
import os
import pathlib
import subprocess
import sys
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "lab"))
from stack_catalogue import CATALOGUE  # noqa: E402  (lab/ is not a package; the roles' default ports)


def ephemeral_directory(scenario: str) -> pathlib.Path:
    """Where Molecule keeps the scenario's inventory and generated password."""
    if os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY"):
        return pathlib.Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"])
    found = sorted(glob.glob(os.path.expanduser(f"~/.ansible/tmp/molecule.*.{scenario}")), key=os.path.getmtime)
    if not found:
        sys.exit(f"no Molecule state for scenario '{scenario}': run `molecule converge -s {scenario}` first")
    return pathlib.Path(found[-1])


def container_address(name: str) -> str:
    return subprocess.run(
        ["docker", "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", name],
        capture_output=True, text=True, check=True).stdout.split()[0]


def main(argv: list[str]) -> int:
    scenario = argv[1] if len(argv) > 1 else "default"
    ephemeral = ephemeral_directory(scenario)
    os.environ["MOLECULE_EPHEMERAL_DIRECTORY"] = str(ephemeral)
    os.environ["MOLECULE_INVENTORY_FILE"] = str(ephemeral / "inventory" / "ansible_inventory.yml")
    sys.path.insert(0, str(REPO / "tests" / "molecule"))
    # pylint: disable-next=import-outside-toplevel
    from lgtm_stack import (backend_of, group_host, group_hosts, instant_query, log_lines, logs_api, metrics_api,
                            place_order, trace, traces_api, wait_for)

    traces, metrics, logs = traces_api(backend_of("traces")), metrics_api(backend_of("metrics")), logs_api(backend_of("logs"))
    order_id = f"lab-{int(time.time())}"
    sent = time.monotonic()
    trace_id = place_order(group_host("demo"), order_id)
    spans = wait_for(lambda: trace(traces, trace_id))
    if not spans:
        print(f"trace {trace_id} did not show up in {traces.component} within 60 s", file=sys.stderr)
        return 1
    seen_after = time.monotonic() - sent
    trace_query = traces.calls[-1]
    lines = wait_for(lambda: log_lines(logs, "shop-front", trace_id), seconds=30) or []
    logs_query = logs.calls[-1]
    metrics_query = 'sum by (job, http_route) (http_requests_total{job="shop-front"})'
    series = wait_for(lambda: instant_query(metrics, metrics_query), seconds=60) or []

    def outside(component: str, port: int) -> str:
        return f"http://{container_address(group_host(component).backend.host)}:{port}"

    def query_port(component: str) -> int:
        entry = CATALOGUE.component(component)
        return entry.port(entry.query_port)
    ui = {"jaeger": "Jaeger query API (and UI, in upstream's build)", "tempo": "Tempo API",
          "prometheus": "Prometheus API", "mimir": "Mimir API", "victorialogs": "VictoriaLogs UI and API",
          "loki": "Loki API"}
    urls = [f"  {ui[api.component]}: {outside(api.component, query_port(api.component))}"
            for api in (traces, metrics, logs)]
    if group_hosts("grafana"):
        urls.append(f"  Grafana: {outside('grafana', query_port('grafana'))} (user admin, password in "
                    f"{ephemeral / 'grafana-admin-password'})")
    print(f"""
Traced order {order_id}: trace {trace_id}, complete in {traces.component} after {seen_after:.1f} s
  spans: {", ".join(sorted(f"{s['service']}:{s['name']}" for s in spans))}

The three queries that found it (each backend's own API, on its host):
  traces  ({traces.component}): {trace_query}
  logs    ({logs.component}): {logs_query}
      -> {json.dumps(lines[:1])}
  metrics ({metrics.component}): {metrics_query}
      -> {json.dumps([{**s["metric"], "value": s["value"][1]} for s in series])}

Where to look (from this machine):
{chr(10).join(urls)}
""")
    return 0 if lines and series else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
