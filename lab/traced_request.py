"""Send one traced order through the lab stack and show where to find it.

Run by `make lab` after the all-in-one lab (Molecule scenario `default`) has
converged: places an order at the demo shop, follows it through Grafana's API
(Tempo, Loki and Mimir datasources) and prints the Grafana URL, the trace ID and
the three queries that found it.

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
    from lgtm_stack import Grafana, admin_password, group_host, place_order, spans_of, wait_for

    grafana = Grafana(group_host("grafana"), admin_password())
    order_id = f"lab-{int(time.time())}"
    sent = time.monotonic()
    trace_id = place_order(group_host("demo"), order_id)
    trace = wait_for(lambda: grafana.trace(trace_id))
    if not trace:
        print(f"trace {trace_id} did not show up in Grafana within 60 s", file=sys.stderr)
        return 1
    seen_after = time.monotonic() - sent
    logs_query = f'{{service_name="shop-front"}} | trace_id="{trace_id}"'
    lines = wait_for(lambda: grafana.loki_lines(logs_query)[0], seconds=30) or []
    metrics_query = 'sum by (job, http_route) (http_requests_total{job="shop-front"})'
    series = wait_for(lambda: grafana.prometheus(metrics_query)[0], seconds=60) or []

    grafana_name = group_host("grafana").backend.host
    print(f"""
Traced order {order_id}: trace {trace_id}, visible through Grafana after {seen_after:.1f} s
  spans: {", ".join(sorted(f"{s['service']}:{s['name']}" for s in spans_of(trace)))}

Grafana: http://{container_address(grafana_name)}:3000  (user admin, password in {ephemeral / 'grafana-admin-password'})
  (this Grafana serves its HTTP API; the lab build has no frontend bundle)

The three queries that found it (through Grafana's datasource API):
  Tempo (uid lgtm-tempo):  GET /api/datasources/proxy/uid/lgtm-tempo/api/v2/traces/{trace_id}
  Loki  (uid lgtm-loki):   {logs_query}
      -> {json.dumps(lines[:1])}
  Mimir (uid lgtm-mimir):  {metrics_query}
      -> {json.dumps([{**s["metric"], "value": s["value"][1]} for s in series])}
""")
    return 0 if lines and series else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
