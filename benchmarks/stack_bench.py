"""Figures of the lab stack, to compare over time.

    python benchmarks/stack_bench.py [scenario] [orders]

On a converged lab (`make lab`, or `molecule converge -s default|distributed`):
times one idempotent re-run of site.yml, then places `orders` traced orders
(default 10) and prints the time from each request until its complete trace is
returned by the traces backend (median, p95, min, max), with the converge times Molecule
recorded for the scenario. The trace is read from whichever backend serves
traces (Jaeger or Tempo), through its own API. One JSON line, prefixed FIGURES.
"""
from __future__ import annotations

import json
import os
import pathlib
import statistics
import subprocess
import sys
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "lab"))
sys.path.insert(0, str(REPO / "tests" / "molecule"))


def main(argv: list[str]) -> int:
    # pylint: disable=import-outside-toplevel
    from traced_request import ephemeral_directory
    scenario = argv[1] if len(argv) > 1 else "default"
    orders = int(argv[2]) if len(argv) > 2 else 10
    ephemeral = ephemeral_directory(scenario)
    os.environ["MOLECULE_EPHEMERAL_DIRECTORY"] = str(ephemeral)
    os.environ["MOLECULE_INVENTORY_FILE"] = inventory = str(ephemeral / "inventory" / "ansible_inventory.yml")
    import lgtm_stack

    started = time.monotonic()
    rerun = subprocess.run(["ansible-playbook", "-i", inventory, str(REPO / "molecule" / "shared" / "converge.yml")],
                           capture_output=True, text=True, check=False)
    rerun_s = round(time.monotonic() - started, 1)
    if rerun.returncode != 0:
        print(rerun.stdout[-3000:], rerun.stderr[-3000:], file=sys.stderr)
        return 1
    lgtm_stack.ORDERS = orders
    backend = lgtm_stack.backend_of("traces")
    placed = lgtm_stack.traced_orders(lgtm_stack.traces_api(backend), lgtm_stack.group_host("demo"))
    visible = [o["visible_after_s"] for o in placed if o["visible_after_s"] is not None]
    figures = {
        "scenario": scenario,
        "idempotent_rerun_s": rerun_s,
        "recorded_converge_runs_s": lgtm_stack.converge_timings(),
        "orders": orders,
        "traces_visible": len(visible),
        "traces_backend": backend,
        "request_to_complete_trace_s": {
            "median": statistics.median(visible) if visible else None,
            "p95": statistics.quantiles(visible, n=20)[-1] if len(visible) >= 2 else None,
            "min": min(visible, default=None), "max": max(visible, default=None)},
    }
    print("FIGURES " + json.dumps(figures))
    return 0 if len(visible) == orders else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
