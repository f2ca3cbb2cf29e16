"""What a host agent costs: the collector site.yml gives every host, idle and reading log lines at given rates.

    python benchmarks/agent_bench.py [--rates 0 1000 10000] [--seconds 20]

Prints figures (a table, then one JSON line prefixed FIGURES); it asserts nothing
about speed. It fails only when the run itself is unreliable: a config the
collector's `validate` refuses, a process that dies, a log line lost or doubled.

What runs, on loopback in a temporary directory (every process started here is
stopped at the end, on error too), with the throughput benchmark's lab
(collector_throughput.py: the lab binary, the sink, the pinning):

- the sink in the gateway's place: a second collector process (the same lab
  binary), OTLP in and the `nop` exporter out; its own telemetry
  (`otelcol_receiver_accepted_log_records`) says when every line has arrived;
- the agent: `lgtm_stack_host_agent_spec` from playbooks/vars/stack.yml, templated
  by Ansible as site.yml templates it for a host of otel_agents (the collector
  role's defaults beside it), and rendered by the `otelcol_config` filter at the
  role's collector version, with the role's memory section for this machine and
  GOMEMLIMIT as the role's unit sets it. Changed for the benchmark, and only
  this: the log files it reads (`lgtm_host_log_files`) are one file of this run,
  the journal is off (the lab build has no journald receiver), the gateway is the
  sink, its data folder (disk queue, read offsets) is in this run's directory and
  its listeners are on ephemeral loopback ports. Host metrics are on, as site.yml
  has them: every scraper of the stack's default, at its interval;
- the writer: this process appends lines of about 150 bytes to the file, a
  hundredth of a second's share each 10 ms, for --seconds at each rate.

For each rate, after the agent has started and made its first collection of
host metrics: `cpu` is the user+system time the agent used from the first line
written until the sink had every line (/proc/<pid>/stat), shown as a share of
one core over that window; `peak RSS` is the agent's VmHWM at the end of the
rate's run (a fresh agent for each rate). Series per host: the data points the
hostmetrics receiver accepts in one collection (the agent's own
`otelcol_receiver_accepted_metric_points`), one point per series. With two or
more CPUs the agent runs alone on the last CPU and the sink and writer on the
others, so its CPU figure is its own.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))
import collector_throughput as bench  # noqa: E402

LINE_BYTES = 150
STEP_S = 0.01


@dataclass(frozen=True)
class AgentRun:
    """One rate's figures."""
    rate: int
    lines: int
    wall_s: float
    cpu_s: float
    peak_rss_mib: float
    series: int

    @property
    def core_share(self) -> float:
        return self.cpu_s / self.wall_s if self.wall_s else 0.0


def agent_spec(ports: bench.Ports, log_file: Path, data_dir: Path) -> bench.Config:
    """The host agent's spec as site.yml templates it, pointed at this run's file, sink and folder."""
    return bench.stack_var("lgtm_stack_host_agent_spec", {
        "lgtm_host_log_files": [str(log_file)], "lgtm_host_journal": False,
        "otel_collector_data_dir": str(data_dir),
        "wiring_endpoints": {"otel_collector": {"host_agents_backend": {"endpoint": f"127.0.0.1:{ports.sink_grpc}"}}},
    })


def log_line(index: int) -> str:
    """One line of an application's log, padded to LINE_BYTES with its newline."""
    text = (f"2026-12-05T04:40:00.{index % 1000:03d}Z INFO shop-back[4242]: order {index:09d} "
            f"path=/orders status=200 duration_ms={index % 97}")
    return text.ljust(LINE_BYTES - 1, " ") + "\n"


def lines_due(rate: int, elapsed_s: float) -> int:
    """How many lines a writer at `rate` lines/s has written after `elapsed_s` seconds."""
    return int(rate * elapsed_s)


def write_lines(path: Path, rate: int, seconds: float) -> int:
    """Append lines at `rate` per second for `seconds`, a step's share at a time; the count written."""
    written = 0
    started = time.monotonic()
    total = lines_due(rate, seconds)
    with path.open("a") as handle:
        while written < total:
            due = min(total, lines_due(rate, time.monotonic() - started))
            if due > written:
                handle.write("".join(log_line(index) for index in range(written, due)))
                handle.flush()
                written = due
            time.sleep(STEP_S)
    return written


def peak_rss_mib(pid: int) -> float:
    """VmHWM of /proc/<pid>/status in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise bench.RunFailed(f"/proc/{pid}/status has no VmHWM")


def accepted(port: int, metric: str, receiver: str) -> int:
    return int(bench.metric_value(bench.http_text(f"http://127.0.0.1:{port}/metrics"), metric, receiver=receiver))


class CollectionWatch(threading.Thread):
    """Reads the agent's count of host metric points every 0.2 s and keeps each value it has seen."""

    def __init__(self, port: int, receiver: str):
        super().__init__(daemon=True)
        self.port, self.receiver, self.values, self.stopped = port, receiver, [0], threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            try:
                value = accepted(self.port, "otelcol_receiver_accepted_metric_points", self.receiver)
            except OSError:
                value = self.values[-1]
            if value != self.values[-1]:
                self.values.append(value)
            time.sleep(0.2)


def series_per_collection(values: List[int]) -> int:
    """The points of the last whole collection seen (one point per series); 0 before the first."""
    steps = [later - earlier for earlier, later in zip(values, values[1:])]
    return steps[-1] if steps else 0


def host_metrics_receiver(rendered: bench.Config) -> str:
    """The id of the rendered config's host metrics receiver (its type was renamed at 0.151.0)."""
    found = [name for name in rendered.get("receivers", {}) if name.split("/")[0] in ("host_metrics", "hostmetrics")]
    if len(found) != 1:
        raise bench.RunFailed(f"the agent's config should have one host metrics receiver, it has {found}")
    return found[0]


def measure(lab: bench.Lab, ports: bench.Ports, config: Path, log_file: Path, rate: int, seconds: float,
            timeout: float, receiver: str) -> AgentRun:
    """A fresh agent: wait for its first collection, write at `rate`, wait until the sink has every line."""
    name = f"agent-{rate}"
    agent = lab.start_collector(name, config, ports.telemetry, ports.otlp_grpc, lab.under_test_cpus)
    watch = CollectionWatch(ports.telemetry, receiver)
    watch.start()
    try:
        deadline = time.monotonic() + timeout
        while len(watch.values) < 2:
            if agent.poll() is not None or time.monotonic() > deadline:
                raise bench.RunFailed(f"{name}: no host metrics collected\n{lab.log_tail(name)}")
            time.sleep(0.2)
        before = accepted(ports.sink_telemetry, "otelcol_receiver_accepted_log_records", "otlp")
        ticks = os.sysconf("SC_CLK_TCK")
        cpu_start = bench.cpu_seconds(Path(f"/proc/{agent.pid}/stat").read_text(), ticks)
        started = time.monotonic()
        lines = write_lines(log_file, rate, seconds) if rate else 0
        if not rate:
            time.sleep(seconds)
        while accepted(ports.sink_telemetry, "otelcol_receiver_accepted_log_records", "otlp") < before + lines:
            if agent.poll() is not None or time.monotonic() > deadline + seconds:
                got = accepted(ports.sink_telemetry, "otelcol_receiver_accepted_log_records", "otlp") - before
                raise bench.RunFailed(f"{name}: the sink has {got} of {lines} lines\n{lab.log_tail(name)}")
            time.sleep(0.05)
        wall = time.monotonic() - started
        cpu = bench.cpu_seconds(Path(f"/proc/{agent.pid}/stat").read_text(), ticks) - cpu_start
        peak = peak_rss_mib(agent.pid)
        time.sleep(1)  # a line sent twice would arrive by now
        got = accepted(ports.sink_telemetry, "otelcol_receiver_accepted_log_records", "otlp") - before
        if got != lines:
            raise bench.RunFailed(f"{name}: {lines} lines written, the sink has {got}: lines were doubled")
    finally:
        watch.stopped.set()
        lab.stop(agent)
    return AgentRun(rate, lines, wall, cpu, peak, series_per_collection(watch.values))


def configs(ports: bench.Ports, workdir: Path) -> tuple[bench.Config, bench.Config, str]:
    """The agent's rendered config (reading workdir/app.log, its data in workdir/data), the sink's,
    and the GOMEMLIMIT the role would set."""
    otelcol_config, otelcol_gomemlimit = bench.collector_filters()
    data_dir = workdir / "data"
    spec = bench.bench_spec(agent_spec(ports, workdir / "app.log", data_dir), ports, bench.host_memory_mib(),
                            str(data_dir / "queue"))
    rendered = bench.plain(otelcol_config(spec, bench.collector_version()))
    return rendered, bench.sink_config(rendered, ports), otelcol_gomemlimit(spec)


def run(args: argparse.Namespace) -> Dict[str, Any]:
    ports = bench.free_ports()
    workdir = Path(tempfile.mkdtemp(prefix="agent-bench-"))
    try:
        data_dir = workdir / "data"
        log_file = workdir / "app.log"
        rendered, sink, gomemlimit = configs(ports, workdir)
        collector = bench.lab_binary("otel_collector")
        runs: List[AgentRun] = []
        with bench.Lab(workdir, collector, None, not args.no_pin, gomemlimit) as lab:
            agent_path = lab.write_config("agent", rendered)
            sink_path = lab.write_config("sink", sink)
            for name, path in {"agent": agent_path, "sink": sink_path}.items():
                lab.validate(name, path)
            lab.start_collector("sink", sink_path, ports.sink_telemetry, ports.sink_grpc, lab.other_cpus)
            for rate in args.rates:
                # Each rate from nothing: no queue, no offsets (file_storage creates the folders), an
                # empty file the agent finds at its start.
                shutil.rmtree(data_dir, ignore_errors=True)
                log_file.write_text("")
                runs.append(measure(lab, ports, agent_path, log_file, rate, args.seconds, args.timeout,
                                    host_metrics_receiver(rendered)))
                print(f"  {rate} lines/s: {runs[-1].cpu_s:.2f} s CPU over {runs[-1].wall_s:.2f} s", flush=True)
        return {"collector": str(collector), "collector_version": bench.collector_version(),
                "pinned": lab.pinned, "agent_cpus": lab.under_test_cpus, "seconds_per_rate": args.seconds,
                "line_bytes": LINE_BYTES, "receivers": sorted(rendered["receivers"]),
                "runs": [{"lines_per_s": item.rate, "lines": item.lines, "wall_s": round(item.wall_s, 2),
                          "cpu_s": round(item.cpu_s, 2), "core_share": round(item.core_share, 4),
                          "peak_rss_mib": round(item.peak_rss_mib, 1), "host_metric_series": item.series}
                         for item in runs]}
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def report(figures: Dict[str, Any]) -> str:
    rows = [f"{'lines/s':>8} {'lines':>8} {'wall s':>7} {'cpu s':>6} {'% of a core':>11} {'peak RSS MiB':>12} "
            f"{'host metric series':>18}"]
    for item in figures["runs"]:
        rows.append(f"{item['lines_per_s']:>8} {item['lines']:>8} {item['wall_s']:>7.2f} {item['cpu_s']:>6.2f} "
                    f"{100 * item['core_share']:>11.1f} {item['peak_rss_mib']:>12.1f} {item['host_metric_series']:>18}")
    return "\n".join(rows)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", type=int, nargs="+", default=[0, 1000, 10000],
                        help="log lines per second, one agent run each (default 0 1000 10000)")
    parser.add_argument("--seconds", type=float, default=20, help="seconds of writing at each rate (default 20)")
    parser.add_argument("--timeout", type=float, default=60, help="seconds to wait for a start or the last line")
    parser.add_argument("--no-pin", action="store_true", help="do not pin the agent to its own CPU")
    args = parser.parse_args(argv)
    if any(rate < 0 for rate in args.rates) or args.seconds <= 0:
        parser.error("--rates must be 0 or more and --seconds more than 0")
    figures = bench.figures_of(run, args)
    if figures is None:
        return 1
    pinning = f"pinned to CPU {figures['agent_cpus']}" if figures["pinned"] else "unpinned"
    print(f"host agent, collector {figures['collector_version']} ({figures['collector']}), receivers "
          f"{', '.join(figures['receivers'])}, {figures['seconds_per_rate']:.0f} s a rate, lines of "
          f"{figures['line_bytes']} bytes, agent {pinning}")
    print(report(figures))
    print("FIGURES " + json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
