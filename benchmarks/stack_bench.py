"""Converge speed and request-to-trace latency of the all-in-one stack, on a fresh lab host.

    python benchmarks/stack_bench.py [--scenario default] [--orders 20] [--keep]

Creates the scenario's lab host from nothing (`molecule destroy` then `create`),
converges site.yml on it (`molecule converge`, timed by the scenario's own
converge.yml from site.yml's first play to its last), converges again (the
idempotent re-run), then places --orders traced orders at the demo shop and
times each request until the traces backend returns its complete trace, then
destroys the host (unless --keep). Prints the figures as one JSON line prefixed
FIGURES, with the targets beside them and the five slowest tasks of each run
(ansible.posix.profile_tasks, enabled for every scenario). A slow run is not a
failure: the exit status is non-zero only when a converge fails, the re-run
changes something, or an order's trace never arrives, when no figure would be
worth printing.
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import re
import subprocess
import sys
from typing import Any

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "lab"))
sys.path.insert(0, str(REPO / "tests" / "molecule"))

# The targets, printed beside the figures (2 cores, the lab's Docker host).
TARGETS = {"converge_s": 120, "idempotent_rerun_s": 30, "request_to_complete_trace_p95_s": 1.0}
TASK_LINE = re.compile(r"^(?P<task>.+?) -+ (?P<seconds>[0-9.]+)s$")


def molecule(action: str, scenario: str) -> subprocess.CompletedProcess:
    return subprocess.run(["molecule", action, "--scenario-name", scenario], cwd=REPO, capture_output=True,
                          text=True, check=False)


def slowest_tasks(output: str, count: int = 5) -> list[list[Any]]:
    """The first entries of profile_tasks' recap: the slowest tasks of the run."""
    recap = output.split("TASKS RECAP", 1)[-1].splitlines()
    tasks = [TASK_LINE.match(line.strip()) for line in recap]
    return [[match["task"], float(match["seconds"])] for match in tasks if match][:count]


def changed_count(output: str) -> int:
    return sum(int(number) for number in re.findall(r"\bchanged=(\d+)", output))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--scenario", default="default")
    parser.add_argument("--orders", type=int, default=20)
    parser.add_argument("--keep", action="store_true", help="leave the lab host up afterwards")
    args = parser.parse_args(argv)

    molecule("destroy", args.scenario)
    created = molecule("create", args.scenario)
    if created.returncode != 0:
        print(created.stdout[-3000:], created.stderr[-3000:], file=sys.stderr)
        return 1
    try:
        # The converge, then the idempotent re-run.
        runs = [molecule("converge", args.scenario), molecule("converge", args.scenario)]
        for run in runs:
            if run.returncode != 0:
                print(run.stdout[-4000:], run.stderr[-3000:], file=sys.stderr)
                return 1
        # pylint: disable=import-outside-toplevel
        from traced_request import ephemeral_directory
        os.environ["MOLECULE_EPHEMERAL_DIRECTORY"] = str(ephemeral_directory(args.scenario))
        os.environ["MOLECULE_INVENTORY_FILE"] = str(ephemeral_directory(args.scenario) / "inventory"
                                                    / "ansible_inventory.yml")
        import lgtm_stack
        lgtm_stack.ORDERS = args.orders
        timings = lgtm_stack.converge_timings()
        backend = lgtm_stack.backend_of("traces")
        orders = lgtm_stack.traced_orders(lgtm_stack.traces_api(backend), lgtm_stack.group_host("demo"))
        latency = lgtm_stack.latency_figures(orders)
        figures = {
            "scenario": args.scenario,
            "converge_s": timings[-2] if len(timings) >= 2 else None,
            "idempotent_rerun_s": timings[-1] if timings else None,
            "rerun_changed": changed_count(runs[1].stdout),
            "orders": args.orders,
            "traces_backend": backend,
            "request_to_complete_trace_s": {key: latency[key] for key in ("median", "p95")},
            "targets": TARGETS,
            "slowest_tasks": {"converge": slowest_tasks(runs[0].stdout), "rerun": slowest_tasks(runs[1].stdout)},
        }
        print("FIGURES " + json.dumps(figures))
        return 0 if len(latency["all"]) == args.orders and figures["rerun_changed"] == 0 else 1
    finally:
        if not args.keep:
            molecule("destroy", args.scenario)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
