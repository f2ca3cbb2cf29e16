"""Gateway fleet: the same load through a host agent to one gateway, then to two balanced by trace ID.

    python benchmarks/gateway_fleet.py [--rounds 3] [--clients 2] [--workers 4] [--traces 10000]

Prints figures (a table, then one JSON line prefixed FIGURES); it asserts nothing about speed. It
fails only when a run is unreliable: a config the collector's `validate` refuses, a process that
dies, a span lost or duplicated between the load and the sink, or, with two gateways, one gateway
taking no spans.

What runs, on loopback with ephemeral ports in a temporary directory (the machinery of
benchmarks/collector_throughput.py; every process is stopped at the end, on error too):

- the sink, a collector with OTLP in and `nop` out, counting what arrives;
- one or two gateways: `lgtm_stack_collector_spec` as site.yml renders it for a gateway host
  (collector_throughput.py's `rendered`), each with listeners and a disk queue of its own, all
  three signals' backends at the sink;
- the agent: `lgtm_stack_host_agent_spec` as site.yml renders it for a host agent with one gateway
  host (its `endpoint`) or two (`load_balancing` over a fixed list, each trace whole to one), its
  own host's metrics and log files left out (the load is OTLP spans only), with its disk queue;
- telemetrygen: the same spans for both layouts, as fast as they are taken.

Per layout: spans/s from the first span of the measured load to the last at the sink, CPU seconds
per process and per span, the spans each gateway took. Nothing is pinned: on this project's
2-core machine the agent, the gateways, the sink and the load share both cores, so a second
gateway adds capacity only where a core is idle; the figures say what it costs and how the load
splits.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))
import collector_throughput as bench  # noqa: E402  (a sibling script)

Config = Dict[str, Any]
LAYOUTS = (1, 2)


def agent_spec(gateways: List[bench.Ports], ports: bench.Ports, host_mib: int, queue_dir: str) -> Config:
    """The host agent's spec as site.yml templates it, towards one gateway or balanced over several."""
    backend = ({"endpoint": f"127.0.0.1:{gateways[0].otlp_grpc}"} if len(gateways) == 1 else
               {"load_balancing": {"static": [f"127.0.0.1:{gateway.otlp_grpc}" for gateway in gateways]}})
    spec = bench.stack_var("lgtm_stack_host_agent_spec", {
        "wiring_endpoints": {"otel_collector": {"host_agents_backend": backend}},
        "lgtm_host_metrics": False, "lgtm_host_log_files": [], "lgtm_host_journal": False,
        "otel_collector_data_dir": queue_dir})
    return bench.bench_spec(spec, ports, host_mib, queue_dir)


def received(ports: bench.Ports) -> int:
    return int(bench.metric_value(bench.http_text(f"http://127.0.0.1:{ports.telemetry}/metrics"),
                                  "otelcol_receiver_accepted_spans", receiver="otlp"))


def cpu_of(pid: int) -> float:
    return bench.cpu_seconds(Path(f"/proc/{pid}/stat").read_text(), os.sysconf("SC_CLK_TCK"))


def measure(lab: bench.Lab, workdir: Path, sink_ports: bench.Ports, layout: int, round_index: int,
            args: argparse.Namespace) -> Dict[str, Any]:
    """One layout: the sink stays up; the gateways and the agent are started fresh for this run."""
    otelcol_config, _gomemlimit = bench.collector_filters()
    version, host_mib = bench.collector_version(), bench.host_memory_mib()
    # Chosen together: ports chosen one set at a time could repeat, as none is bound until its process starts.
    *gateway_ports, agent_ports = bench.free_port_sets(layout + 1)
    started: List[tuple[str, Any, bench.Ports]] = []
    try:
        for index, ports in enumerate(gateway_ports):
            name = f"gateway{index + 1}-of-{layout}-r{round_index}"
            queue = workdir / name
            queue.mkdir()
            # The gateway's own listeners; its backends and the sink's telemetry are the shared sink's.
            toward_sink = dataclasses.replace(ports, sink_grpc=sink_ports.sink_grpc, sink_http=sink_ports.sink_http,
                                              sink_telemetry=sink_ports.sink_telemetry)
            spec = bench.bench_spec(bench.stack_spec(toward_sink), ports, host_mib, str(queue))
            path = lab.write_config(name, bench.plain(otelcol_config(spec, version)))
            lab.validate(name, path)
            started.append((name, lab.start_collector(name, path, ports.telemetry, ports.otlp_grpc, lab.other_cpus),
                            ports))
        name = f"agent-to-{layout}-r{round_index}"
        queue = workdir / name
        queue.mkdir()
        path = lab.write_config(name, bench.plain(otelcol_config(agent_spec(gateway_ports, agent_ports, host_mib,
                                                                            str(queue)), version)))
        lab.validate(name, path)
        agent = lab.start_collector(name, path, agent_ports.telemetry, agent_ports.otlp_grpc, lab.other_cpus)
        started.append((name, agent, agent_ports))
        spans = args.clients * args.workers * args.traces * bench.SPANS_PER_TRACE
        before_sink = bench.sink_accepted(sink_ports)
        cpu_before = {item[0]: cpu_of(item[1].pid) for item in started}
        begun = time.monotonic()
        clients = lab.send(agent_ports.otlp_grpc, args.clients, args.workers, args.traces, f"{name}-telemetrygen")
        bench.wait_for_sink(lab, sink_ports, before_sink + spans, agent, clients, name, args.timeout)
        wall = time.monotonic() - begun
        cpu = {item[0]: round(cpu_of(item[1].pid) - cpu_before[item[0]], 2) for item in started}
        for proc in clients:
            if proc.wait(timeout=args.timeout) != 0:
                raise bench.RunFailed(f"{name}: telemetrygen exited with {proc.returncode}")
        time.sleep(1)  # a duplicate would arrive after the count was reached
        at_sink = bench.sink_accepted(sink_ports) - before_sink
        per_gateway = [received(ports) for _name, _proc, ports in started[:-1]]
    finally:
        for _name, proc, _ports in reversed(started):
            lab.stop(proc)
    if at_sink != spans or sum(per_gateway) != spans:
        raise bench.RunFailed(f"{layout} gateway(s): sent {spans}, the gateways took {per_gateway}, the sink "
                              f"{at_sink}: spans were lost or duplicated")
    if min(per_gateway) == 0:
        raise bench.RunFailed(f"{layout} gateways: one took no span ({per_gateway}): the agent did not balance")
    total_cpu = sum(cpu.values())
    return {"gateways": layout, "round": round_index, "spans": spans, "wall_s": round(wall, 2),
            "spans_per_s": round(spans / wall), "cpu_s": cpu, "cpu_us_per_span": round(total_cpu / spans * 1e6, 2),
            "gateway_cpu_us_per_span": round(sum(value for key, value in cpu.items() if key.startswith("gateway"))
                                             / spans * 1e6, 2),
            "spans_per_gateway": per_gateway}


def median(values: List[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def run(args: argparse.Namespace) -> Dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="gateway-fleet-"))
    try:
        sink_ports = bench.free_ports()
        rendered = bench.plain(bench.collector_filters()[0](
            bench.bench_spec(bench.stack_spec(sink_ports), sink_ports, bench.host_memory_mib(), str(workdir)),
            bench.collector_version()))
        collector, telemetrygen = bench.lab_binary("otel_collector"), bench.lab_binary("telemetrygen")
        runs = []
        with bench.Lab(workdir, collector, telemetrygen, False, bench.collector_filters()[1](
                {"memory": {"host_mib": bench.host_memory_mib()}})) as lab:
            shutil.copy2(collector, workdir / "otelcol-contrib")
            lab.collector = workdir / "otelcol-contrib"
            sink_path = lab.write_config("sink", bench.sink_config(rendered, sink_ports))
            lab.validate("sink", sink_path)
            lab.start_collector("sink", sink_path, sink_ports.sink_telemetry, sink_ports.sink_grpc, lab.other_cpus)
            for round_index in range(args.rounds):
                for layout in (LAYOUTS if round_index % 2 == 0 else LAYOUTS[::-1]):
                    runs.append(measure(lab, workdir, sink_ports, layout, round_index, args))
                    print(f"  round {round_index + 1}/{args.rounds}, {layout} gateway(s): {runs[-1]['spans_per_s']} "
                          f"spans/s, {runs[-1]['cpu_us_per_span']} us CPU per span, per gateway "
                          f"{runs[-1]['spans_per_gateway']}", flush=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    summary = {}
    for layout in LAYOUTS:
        mine = [item for item in runs if item["gateways"] == layout]
        summary[str(layout)] = {key: median([item[key] for item in mine])
                                for key in ("spans_per_s", "cpu_us_per_span", "gateway_cpu_us_per_span")}
        summary[str(layout)]["largest_gateway_share"] = median([max(item["spans_per_gateway"]) / item["spans"]
                                                                for item in mine])
    return {"collector": str(collector), "collector_version": bench.collector_version(), "rounds": args.rounds,
            "spans_per_run": runs[0]["spans"], "cpus": len(os.sched_getaffinity(0)), "layouts": summary, "runs": runs}


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    bench.add_load_options(parser, 3, 10000, "layout")
    figures = bench.figures_of(run, parser.parse_args(argv))
    if figures is None:
        return 1
    print(f"collector {figures['collector_version']}, {figures['spans_per_run']} spans a run through a host agent, "
          f"median of {figures['rounds']} rounds, {figures['cpus']} CPUs shared by every process")
    print(f"  {'gateways':>8} {'spans/s':>8} {'CPU us/span (all)':>17} {'gateways CPU us/span':>20} {'largest share':>13}")
    for layout, row in figures["layouts"].items():
        print(f"  {layout:>8} {row['spans_per_s']:>8.0f} {row['cpu_us_per_span']:>17.2f} "
              f"{row['gateway_cpu_us_per_span']:>20.2f} {row['largest_gateway_share']:>13.2f}")
    print("FIGURES " + json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
