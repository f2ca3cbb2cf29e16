"""Where the collector's CPU goes: a CPU profile of one config of the throughput benchmark.

    python benchmarks/collector_profile.py [--config rendered] [--seconds 8]

The throughput benchmark (collector_throughput.py) says what each component
costs by taking it out; this says what the time is spent on inside one config.
The same set-up (the lab binary, the stack's rendered config with only the
listeners moved, the sink, telemetrygen, the collector under test alone on one
CPU), plus the pprof extension on loopback; under a steady load the collector's
own CPU profile is taken for a few seconds and read with `go tool pprof` (the Go
toolchain the lab builds with). Prints the share of the profile's samples spent
spent in each of a few named parts and what they call (so they overlap: a
part's allocations count under "allocation" too), then pprof's own top list.
Figures only; it fails only when it cannot measure.
"""
from __future__ import annotations

import argparse
import copy
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Dict, List, Optional, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent))
import collector_throughput as bench  # noqa: E402

PPROF_ADDRESS = "127.0.0.1:17777"
QUEUE = "go.opentelemetry.io/collector/exporter/exporterhelper/internal/queue.(*persistentQueue["
# Named parts: (function-name prefix, suffix) of a row of `pprof -top -cum` (generic
# functions carry their type shape between the two).
PARTS: Dict[str, Tuple[str, str]] = {
    "persistent queue: write each request (Offer)": (QUEUE, ").Offer"),
    "persistent queue: read it back and unmarshal (Read)": (QUEUE, ").Read"),
    "persistent queue: delete it once exported (onDone)": (QUEUE, ").onDone"),
    "  of the three: bbolt transactions (file_storage)": ("go.etcd.io/bbolt.(*DB).Update", ""),
    "fan-out: copies for the three consumers of traces": ("go.opentelemetry.io/collector/internal/fanoutconsumer.cloneTraces", ""),
    "span_metrics connector": ("github.com/open-telemetry/opentelemetry-collector-contrib/connector/spanmetricsconnector."
                               "(*connectorImp).ConsumeTraces", ""),
    "service_graph connector": ("github.com/open-telemetry/opentelemetry-collector-contrib/connector/servicegraphconnector."
                                "(*serviceGraphConnector).ConsumeTraces", ""),
    "OTLP export to the traces backend (gRPC, gzip)": ("go.opentelemetry.io/collector/exporter/otlpexporter."
                                                       "(*baseExporter).pushTraces", ""),
    "gzip compression (every exporter)": ("compress/gzip.(*Writer).Write", ""),
    "allocation (mallocgc)": ("runtime.mallocgc", ""),
    "garbage collection (background mark)": ("runtime.gcBgMarkWorker", ""),
}
CUM_ROW = re.compile(r"^\s*\S+\s+\S+%\s+\S+%\s+(\S+?)(s|ms)\s+(\S+)%\s+(.+)$")


def part_shares(cum_top: str) -> Dict[str, float]:
    """Each part's largest cumulative share (%) in a `go tool pprof -top -cum` listing."""
    rows = []
    for line in cum_top.splitlines():
        match = CUM_ROW.match(line)
        if match:
            rows.append((match.group(4).strip(), float(match.group(3))))
    return {part: max((share for name, share in rows if name.startswith(prefix) and name.endswith(suffix)), default=0.0)
            for part, (prefix, suffix) in PARTS.items()}


def profile(args: argparse.Namespace) -> str:
    workdir = Path(tempfile.mkdtemp(prefix="collector-profile-"))
    try:
        return profile_in(args, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def profile_in(args: argparse.Namespace, workdir: Path) -> str:
    """One profile, everything in workdir: the configs, the queue, the profile."""
    ports = bench.free_ports()
    (workdir / "queue").mkdir()
    under_test, sink, gomemlimit = bench.configs(ports, str(workdir / "queue"))
    if args.config not in under_test:
        raise bench.RunFailed(f"--config: choose from {sorted(under_test)}")
    config = copy.deepcopy(under_test[args.config])
    config.setdefault("extensions", {})["pprof"] = {"endpoint": PPROF_ADDRESS}
    config["service"]["extensions"] = [*config["service"].get("extensions", []), "pprof"]
    collector, telemetrygen = bench.lab_binary("otel_collector"), bench.lab_binary("telemetrygen")
    with bench.Lab(workdir, collector, telemetrygen, not args.no_pin, gomemlimit) as lab:
        paths = {"under-test": lab.write_config("under-test", config), "sink": lab.write_config("sink", sink)}
        for name, path in paths.items():
            lab.validate(name, path)
        lab.start_collector("sink", paths["sink"], ports.sink_telemetry, ports.sink_grpc, lab.other_cpus)
        lab.start_collector("under-test", paths["under-test"], ports.telemetry, ports.otlp_grpc, lab.under_test_cpus)
        # More than the profile needs: the load lasts past it; the generators stop with the lab.
        lab.send(ports.otlp_grpc, args.clients, args.workers, 100000, "telemetrygen")
        time.sleep(2)
        out = workdir / "cpu.pprof"
        urllib.request.urlretrieve(f"http://{PPROF_ADDRESS}/debug/pprof/profile?seconds={args.seconds}", out)
    pprof = ["go", "tool", "pprof"]
    cum = subprocess.run([*pprof, "-top", "-cum", "-nodecount=400", str(collector), str(out)],
                         capture_output=True, text=True, check=True).stdout
    flat = subprocess.run([*pprof, "-top", "-nodecount=20", str(collector), str(out)],
                          capture_output=True, text=True, check=True).stdout
    lines = [f"config {args.config!r}: share of the collector's CPU samples spent in each part and what it calls "
             f"(parts overlap: allocation counts in the part that allocates too)"]
    lines += [f"  {share:5.1f}%  {part}" for part, share in part_shares(cum).items()]
    return "\n".join(lines) + "\n\n" + flat


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=bench.RENDERED, help="which config (names as the throughput benchmark "
                        "prints them; default rendered)")
    parser.add_argument("--seconds", type=int, default=8, help="profile length (default 8)")
    parser.add_argument("--clients", type=int, default=2, help="telemetrygen processes (default 2)")
    parser.add_argument("--workers", type=int, default=4, help="workers per telemetrygen process (default 4)")
    parser.add_argument("--no-pin", action="store_true", help="do not pin the collector under test to its own CPU")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_signal: sys.exit(143))
    try:
        print(profile(args))
    except (bench.RunFailed, subprocess.CalledProcessError, OSError) as failure:
        print(f"ERROR: {failure}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
