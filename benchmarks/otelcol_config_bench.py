"""Time the otelcol_config filter on a spec with 100 pipelines.

Run from anywhere, with the collection importable as ansible_collections.observability.lgtm
(for example through a symlink tree on PYTHONPATH):

    PYTHONPATH=/tmp/f4 python benchmarks/otelcol_config_bench.py [--runs 15]

Prints the median render time in milliseconds (lint + render + overrides + final check).
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any, Dict

from ansible_collections.observability.lgtm.plugins.filter.otelcol_config import otelcol_config

PIPELINE_COUNT = 100
SIGNAL_BACKENDS = {"traces": "tempo", "metrics": "mimir", "logs": "loki"}


def hundred_pipeline_spec() -> Dict[str, Any]:
    """100 pipelines spread over the three signals, each with its own backend and processor."""
    spec: Dict[str, Any] = {
        "memory": {"host_mib": 8192},
        "backends": {},
        "processors": {},
        "pipelines": {},
        "resource_attributes": {"deployment.environment": "bench"},
        "persistent_queue": {"directory": "/var/lib/otelcol/queue"},
    }
    signals = list(SIGNAL_BACKENDS)
    for index in range(PIPELINE_COUNT):
        signal = signals[index % len(signals)]
        backend = f"{SIGNAL_BACKENDS[signal]}{index}"
        processor = f"attributes/p{index}"
        spec["backends"][backend] = {"type": SIGNAL_BACKENDS[signal], "host": f"{backend}.bench", "tenant": "bench"}
        spec["processors"][processor] = {"actions": [{"key": "internal.note", "action": "delete"}]}
        pipeline: Dict[str, Any] = {"receivers": ["otlp"], "extra_processors": [processor], "exporters": [backend]}
        if signal == "traces":
            pipeline["sampling"] = {"probabilistic": {"percentage": 50}}
        spec["pipelines"][f"{signal}/p{index}"] = pipeline
    return spec


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="number of timed runs (default 15)")
    arguments = parser.parse_args()

    spec = hundred_pipeline_spec()
    otelcol_config(spec)  # warm-up: imports, regex compilation
    timings_ms = []
    for _run in range(arguments.runs):
        started = time.perf_counter()
        config = otelcol_config(spec)
        timings_ms.append((time.perf_counter() - started) * 1000.0)
    assert len(config["service"]["pipelines"]) == PIPELINE_COUNT
    print(f"otelcol_config: {PIPELINE_COUNT} pipelines, {arguments.runs} runs: "
          f"median {statistics.median(timings_ms):.2f} ms (min {min(timings_ms):.2f} ms, "
          f"max {max(timings_ms):.2f} ms)")


if __name__ == "__main__":
    main()
