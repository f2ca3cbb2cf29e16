"""The pure parts of benchmarks/collector_throughput.py: the configs it runs and the figures it prints.

The benchmark's own run is not a test (it prints figures, it asserts no speed);
what is checked here is that it measures what it says: the stack's rendered
config with only its listeners and scrape targets moved, a pass-through with no
processors, variants that each lack exactly one component, and the arithmetic.
With LGTM_OTELCOL_BIN set (`make units` sets it), every config also passes the
lab collector's own `validate`.
"""
from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "benchmarks"))
import collector_throughput as bench  # noqa: E402  (benchmarks/ is not a package)

PORTS = bench.Ports(sink_grpc=41001, sink_http=41002, sink_telemetry=41003, otlp_grpc=41004, otlp_http=41005,
                    health_check=41006, telemetry=41007, hop_grpc=41008)


@pytest.fixture(scope="module")
def configs() -> tuple[dict, dict, str]:
    return bench.configs(PORTS)


def listeners(config: dict) -> list[str]:
    endpoints = [protocol["endpoint"] for receiver in config["receivers"].values()
                 for protocol in receiver.get("protocols", {}).values()]
    endpoints += [extension["endpoint"] for extension in config.get("extensions", {}).values()
                  if "endpoint" in extension]
    for reader in config["service"]["telemetry"]["metrics"]["readers"]:
        exporter = reader["pull"]["exporter"]["prometheus"]
        endpoints.append(f"{exporter['host']}:{exporter['port']}")
    return endpoints


def test_the_spec_is_site_ymls_with_only_listeners_moved():
    """bench_spec keeps every key of the templated stack spec but the listeners it moves."""
    spec = bench.stack_spec(PORTS)
    stack = yaml.safe_load((REPO / "playbooks" / "vars" / "stack.yml").read_text())["lgtm_stack_collector_spec"]
    assert set(spec) == set(stack)
    assert {name: backend["type"] for name, backend in spec["backends"].items()} == bench.LAB_BACKENDS
    assert [(job["targets"], job["labels"]) for job in spec["receivers"]["prometheus/stack"]["scrape_configs"]] == [
        ([f"127.0.0.1:{PORTS.telemetry}"], {"component": "otel_collector"}),
        ([f"127.0.0.1:{PORTS.sink_telemetry}"], {"component": "sink"})]
    moved = bench.bench_spec(spec, PORTS, 4096, "/run/bench/queue")
    assert moved["memory"] == {"host_mib": 4096}
    # The stack's persistent queue stays, in this run's directory, its intake on this run's port.
    assert moved["persistent_queue"] == {**spec["persistent_queue"], "directory": "/run/bench/queue",
                                         "intake_address": f"127.0.0.1:{PORTS.hop_grpc}"}
    unchanged = {key for key in spec if key not in ("receivers", "extensions", "telemetry", "persistent_queue")}
    assert {key: moved[key] for key in unchanged} == {key: spec[key] for key in unchanged}
    assert {k: v for k, v in moved["receivers"].items() if k != "otlp"} == \
        {k: v for k, v in spec["receivers"].items() if k != "otlp"}


def test_rendered_config_sends_everything_to_the_sink_and_listens_on_loopback_only(configs):
    under_test, _sink, gomemlimit = configs
    rendered = under_test[bench.RENDERED]
    assert gomemlimit.endswith("MiB")
    endpoints = {name: exporter["endpoint"] for name, exporter in rendered["exporters"].items()}
    assert endpoints == {"otlp_grpc/traces": f"127.0.0.1:{PORTS.sink_grpc}",
                         "otlp_http/metrics": f"http://127.0.0.1:{PORTS.sink_http}/api/v1/otlp",
                         "otlp_http/logs": f"http://127.0.0.1:{PORTS.sink_http}/insert/opentelemetry",
                         "otlp_grpc/intake_traces": f"127.0.0.1:{PORTS.hop_grpc}"}
    assert sorted(listeners(rendered)) == sorted(f"127.0.0.1:{port}" for port in (
        PORTS.otlp_grpc, PORTS.otlp_http, PORTS.health_check, PORTS.telemetry, PORTS.hop_grpc))
    traces = rendered["service"]["pipelines"]["traces"]
    assert traces["processors"] == ["memory_limiter", "resource"]
    assert traces["exporters"] == ["otlp_grpc/intake_traces"]
    assert rendered["service"]["pipelines"][bench.fan_out("traces")]["exporters"] == [
        "otlp_grpc/traces", "span_metrics", "service_graph"]


def test_pass_through_has_no_processors_and_the_same_telemetry(configs):
    under_test, _sink, _limit = configs
    passing = under_test[bench.PASS_THROUGH]
    assert "processors" not in passing and "connectors" not in passing
    assert passing["service"]["pipelines"] == {"traces": {"receivers": ["otlp"], "exporters": ["otlp_grpc/sink"]}}
    assert passing["exporters"]["otlp_grpc/sink"]["endpoint"] == f"127.0.0.1:{PORTS.sink_grpc}"
    assert passing["service"]["telemetry"] == under_test[bench.RENDERED]["service"]["telemetry"]


def test_each_variant_lacks_exactly_one_component(configs):
    under_test, _sink, _limit = configs
    rendered = under_test[bench.RENDERED]
    names = [name for name in under_test if name.startswith("- ")]
    assert names == ["- memory_limiter", "- resource", "- span_metrics", "- service_graph", "- sending_queue.batch",
                     "- persistent queue"]
    for name in names:
        variant, component = under_test[name], name[2:]
        if component == "persistent queue":
            assert all("storage" not in exporter.get("sending_queue", {}) for exporter in variant["exporters"].values())
            assert not any("storage" in name for name in variant.get("extensions", {}))
            assert any("storage" in exporter.get("sending_queue", {}) for exporter in rendered["exporters"].values())
            continue
        if component == "sending_queue.batch":
            restored = copy.deepcopy(variant)
            for exporter_name, exporter in restored["exporters"].items():
                assert "batch" not in exporter["sending_queue"]
                exporter["sending_queue"]["batch"] = rendered["exporters"][exporter_name]["sending_queue"]["batch"]
            assert restored == rendered
            continue
        kind = "processors" if component in rendered.get("processors", {}) else "connectors"
        assert component not in variant.get(kind, {})
        assert {k: v for k, v in variant.items() if k not in (kind, "service")} == \
            {k: v for k, v in rendered.items() if k not in (kind, "service")}
        for pipeline_name, pipeline in rendered["service"]["pipelines"].items():
            for role in ("receivers", "processors", "exporters"):
                expected = [item for item in pipeline.get(role, []) if item != component]
                assert variant["service"]["pipelines"][pipeline_name].get(role, []) == expected, (name, role)


def test_the_alternative_batches_ahead_of_the_queue_instead_of_after_it(configs):
    under_test, _sink, _limit = configs
    rendered, alternative = under_test[bench.RENDERED], under_test[bench.BATCH_AHEAD_OF_QUEUE]
    # A batch processor of the exporters' sizes ends every pipeline; the exporters still queue on disk, unbatched.
    assert alternative["processors"]["batch"] == {"send_batch_size": 8192, "send_batch_max_size": 16384,
                                                  "timeout": "200ms"}
    for pipeline_name, pipeline in alternative["service"]["pipelines"].items():
        assert pipeline["processors"] == [*rendered["service"]["pipelines"][pipeline_name]["processors"], "batch"]
    for exporter_name, exporter in alternative["exporters"].items():
        queue = dict(rendered["exporters"][exporter_name]["sending_queue"])
        del queue["batch"]
        assert exporter["sending_queue"] == queue, exporter_name
    # Nothing else differs.
    assert {k: v for k, v in alternative.items() if k not in ("processors", "exporters", "service")} == \
        {k: v for k, v in rendered.items() if k not in ("processors", "exporters", "service")}


def test_the_rendered_traces_pipeline_takes_data_in_through_its_intake_on_the_runs_port(configs):
    """site.yml's traces pipeline fans out (the backend and two connectors): it hands its requests to
    its intake, on this run's loopback port, whose pipeline fans out; the traces backend's disk queue
    waits for room behind it instead of refusing."""
    under_test, _sink, _limit = configs
    rendered = under_test[bench.RENDERED]
    pipelines = rendered["service"]["pipelines"]
    assert pipelines["traces"]["exporters"] == ["otlp_grpc/intake_traces"]
    behind_intake = pipelines[bench.fan_out("traces")]
    assert behind_intake == {"receivers": ["otlp/intake_traces"], "processors": ["memory_limiter"],
                             "exporters": ["otlp_grpc/traces", "span_metrics", "service_graph"]}
    assert rendered["exporters"]["otlp_grpc/intake_traces"]["endpoint"] == f"127.0.0.1:{PORTS.hop_grpc}"
    assert rendered["receivers"]["otlp/intake_traces"]["protocols"]["grpc"]["endpoint"] == f"127.0.0.1:{PORTS.hop_grpc}"
    assert rendered["exporters"]["otlp_grpc/traces"]["sending_queue"]["block_on_overflow"] is True
    assert bench.traces_exporter(rendered) == "otlp_grpc/traces"


def test_no_intake_joins_the_traces_pipeline_again(configs):
    """Issue 18's comparison: the shape before the intake, the traces pipeline fanning out itself and
    each exporter's disk queue refusing when full."""
    under_test, _sink, _limit = configs
    rendered, alternative = under_test[bench.RENDERED], under_test[bench.NO_INTAKE]
    pipelines = alternative["service"]["pipelines"]
    assert bench.fan_out("traces") not in pipelines
    assert pipelines["traces"] == {**rendered["service"]["pipelines"]["traces"],
                                   "exporters": ["otlp_grpc/traces", "span_metrics", "service_graph"]}
    assert "otlp_grpc/intake_traces" not in alternative["exporters"]
    assert "otlp/intake_traces" not in alternative["receivers"]
    assert sorted(listeners(rendered)) == sorted([*listeners(alternative), f"127.0.0.1:{PORTS.hop_grpc}"])
    assert not any("block_on_overflow" in exporter.get("sending_queue", {})
                   for exporter in alternative["exporters"].values())
    # The metrics and logs pipelines (one exporter each, no fan-out) keep their own disk queues.
    for name in ("otlp_http/metrics", "otlp_http/logs"):
        assert alternative["exporters"][name] == rendered["exporters"][name]


def test_fsync_and_compression_alternatives_change_one_setting(configs):
    under_test, _sink, _limit = configs
    rendered = under_test[bench.RENDERED]
    synced = under_test[bench.FSYNC]
    assert synced["extensions"]["file_storage/queue"] == {**rendered["extensions"]["file_storage/queue"], "fsync": True}
    assert {k: v for k, v in synced.items() if k != "extensions"} == {k: v for k, v in rendered.items() if k != "extensions"}
    for name, compression in ((bench.NO_COMPRESSION, "none"), (bench.ZSTD, "zstd")):
        # The intake's exporter, on loopback, sends uncompressed in every config.
        exporters = dict(under_test[name]["exporters"])
        assert exporters.pop("otlp_grpc/intake_traces") == rendered["exporters"]["otlp_grpc/intake_traces"]
        assert rendered["exporters"]["otlp_grpc/intake_traces"]["compression"] == "none"
        assert {exporter["compression"] for exporter in exporters.values()} == {compression}
        assert {k: {key: value for key, value in v.items() if key != "compression"} for k, v in exporters.items()} == \
            {k: v for k, v in rendered["exporters"].items() if k != "otlp_grpc/intake_traces"}


def test_each_cost_alternative_is_reported_against_the_rendered_and_the_pass_through():
    runs = []
    for index in range(3):
        runs += [bench.Measurement(bench.PASS_THROUGH, index, 1000, 1.0, 0.003),
                 bench.Measurement(bench.RENDERED, index, 1000, 1.0, 0.008),
                 bench.Measurement(bench.NO_INTAKE, index, 1000, 1.0, 0.006)]
    figures = bench.alternatives_figures(runs, bench.summarize(runs))
    assert list(figures) == [bench.NO_INTAKE]
    assert figures[bench.NO_INTAKE]["ratio_to_pass_through"]["median"] == 0.5
    assert figures[bench.NO_INTAKE]["cpu_us_per_span_over_rendered"]["median"] == -2.0
    printed = bench.report(bench.summarize(runs), bench.ratio(runs), {}, bench.gap(runs), None, figures)
    assert "no intake: each exporter's queue refuses / pass-through: median 0.50 (0.50-0.50); CPU per span over " \
           "the rendered's -2.000 us" in printed


def test_sink_takes_every_path_the_rendered_exporters_post_to(configs):
    _under_test, sink, _limit = configs
    http = sink["receivers"]["otlp"]["protocols"]["http"]
    assert http == {"endpoint": f"127.0.0.1:{PORTS.sink_http}", "metrics_url_path": "/api/v1/otlp/v1/metrics",
                    "logs_url_path": "/insert/opentelemetry/v1/logs"}
    assert set(sink["service"]["pipelines"]) == {"traces", "metrics", "logs"}
    assert all(pipeline["exporters"] == ["nop"] for pipeline in sink["service"]["pipelines"].values())


@pytest.mark.skipif(not os.environ.get("LGTM_OTELCOL_BIN"), reason="LGTM_OTELCOL_BIN unset (make units sets it)")
def test_every_config_passes_the_lab_collectors_validate(configs, tmp_path):
    under_test, sink, _limit = configs
    for name, config in {**under_test, "sink": sink}.items():
        path = tmp_path / "config.yaml"
        path.write_text(yaml.safe_dump(config))
        result = subprocess.run([os.environ["LGTM_OTELCOL_BIN"], "validate", f"--config={path}"],
                                capture_output=True, text=True, check=False, timeout=120)
        assert result.returncode == 0, f"{name}: {result.stdout}{result.stderr}"


def test_metric_value_sums_the_matching_samples():
    exposition = "\n".join([
        "# HELP otelcol_receiver_accepted_spans Number of spans.",
        "# TYPE otelcol_receiver_accepted_spans counter",
        'otelcol_receiver_accepted_spans{receiver="otlp",transport="grpc"} 1200',
        'otelcol_receiver_accepted_spans{receiver="otlp",transport="http"} 34',
        'otelcol_receiver_accepted_spans_total{receiver="otlp",transport="x,y=\\"z\\""} 1',
        'otelcol_receiver_accepted_spans{receiver="prometheus/stack",transport="http"} 99',
        'otelcol_receiver_accepted_spans_other{receiver="otlp"} 5',
        "otelcol_process_uptime 12.5",
    ])
    assert bench.metric_value(exposition, "otelcol_receiver_accepted_spans", receiver="otlp") == 1235
    assert bench.metric_value(exposition, "otelcol_receiver_accepted_spans", transport="grpc") == 1200
    assert bench.metric_value(exposition, "otelcol_receiver_accepted_spans") == 1334
    assert bench.metric_value(exposition, "otelcol_process_uptime") == 12.5
    assert bench.metric_value(exposition, "missing") == 0


def test_cpu_seconds_reads_utime_and_stime_after_the_name():
    # A process name with a space and a parenthesis; utime 250, stime 50 ticks.
    fields = ["S", "1", "2", "3", "0", "-1", "4194560", "10", "0", "0", "0", "250", "50", "0", "0", "20", "0", "12"]
    stat = "4242 (otel col) x) " + " ".join(fields)
    assert bench.cpu_seconds(stat, 100) == 3.0


def test_figures_are_medians_and_ratio_and_costs_are_paired_by_round():
    spans = 400_000
    rendered_runs = ((4.0, 2.0), (5.0, 2.2), (4.5, 2.1))
    runs = [bench.Measurement(bench.RENDERED, index, spans, wall, cpu)
            for index, (wall, cpu) in enumerate(rendered_runs)]
    runs += [bench.Measurement(bench.PASS_THROUGH, index, spans, 3.0, cpu)
             for index, cpu in enumerate((1.5, 1.54, 1.4))]
    runs += [bench.Measurement("- span_metrics", index, spans, 4.0, cpu)
             for index, cpu in enumerate((1.7, 2.0, 1.9))]
    summary = bench.summarize(runs)
    assert summary[bench.RENDERED]["cpu_s"] == 2.1 and summary[bench.RENDERED]["wall_s"] == 4.5
    assert summary[bench.RENDERED]["spans_per_s_per_core"] == round(spans / 2.1)
    assert summary[bench.RENDERED]["spans_per_s_per_core_min_max"] == [round(spans / 2.2), round(spans / 2.0)]
    assert summary[bench.RENDERED]["spans_per_s"] == round(spans / 4.5)
    assert summary[bench.RENDERED]["cpu_us_per_span"] == 5.25
    # Round by round: 1.5/2.0, 1.54/2.2, 1.4/2.1.
    assert bench.ratio(runs) == {"median": 0.7, "min": 0.667, "max": 0.75}
    # Rendered minus without, per span, round by round: 0.3, 0.2, 0.2 s over 400000 spans.
    assert bench.component_costs(runs) == {
        "span_metrics": {"cpu_us_per_span": {"median": 0.5, "min": 0.5, "max": 0.75}, "share": 0.095}}
    # Rendered minus pass-through, round by round: 0.5, 0.66, 0.7 s over 400000 spans.
    assert bench.gap(runs) == {"median": 1.65, "min": 1.25, "max": 1.75}
    printed = bench.report(summary, bench.ratio(runs), bench.component_costs(runs), bench.gap(runs))
    assert "round by round: median 0.70 (0.67-0.75)" in printed
    assert "span_metrics" in printed and "+0.500 us (+0.500 to +0.750)" in printed
    assert "rendered over pass-through: +1.650 us per span (+1.250 to +1.750); the components above add up " \
           "to +0.500, the rest (+1.150) is no single removed component's" in printed

    # The alternative is paired with the pass-through the same way, and is no component's cost.
    runs += [bench.Measurement(bench.BATCH_AHEAD_OF_QUEUE, index, spans, 4.0, cpu)
             for index, cpu in enumerate((1.875, 2.2, 2.0))]
    assert bench.ratio(runs, bench.BATCH_AHEAD_OF_QUEUE) == {"median": 0.7, "min": 0.7, "max": 0.8}
    assert set(bench.component_costs(runs)) == {"span_metrics"}
    printed = bench.report(bench.summarize(runs), bench.ratio(runs), bench.component_costs(runs), bench.gap(runs),
                           bench.ratio(runs, bench.BATCH_AHEAD_OF_QUEUE))
    assert "batch processor ahead of the queue (not the stack's: a crash loses what it holds) / pass-through: " \
           "median 0.70 (0.70-0.80)" in printed


def test_a_round_missing_one_side_is_left_out_of_the_pairs():
    runs = [bench.Measurement(bench.RENDERED, 0, 10, 1, 2.0), bench.Measurement(bench.PASS_THROUGH, 0, 10, 1, 1.0),
            bench.Measurement(bench.RENDERED, 1, 10, 1, 2.0)]
    assert bench.ratio(runs) == {"median": 0.5, "min": 0.5, "max": 0.5}


def test_runs_of_different_sizes_are_not_summarized_together():
    with pytest.raises(ValueError):
        bench.summarize([bench.Measurement(bench.RENDERED, 0, 10, 1, 1),
                         bench.Measurement(bench.RENDERED, 1, 20, 1, 1)])


def test_ports_are_distinct_and_rounds_rotate_the_order():
    ports = bench.free_ports()
    assert len(set(vars(ports).values())) == len(vars(ports))
    assert [bench.rotated(["a", "b", "c"], index) for index in range(4)] == [
        ["a", "b", "c"], ["b", "c", "a"], ["c", "a", "b"], ["a", "b", "c"]]


def test_peak_rss_is_the_processs_high_water_mark():
    status = "Name:\totelcol-contrib\nVmPeak:\t 900000 kB\nVmHWM:\t  204800 kB\nVmRSS:\t  100000 kB\n"
    assert bench.peak_rss_kib(status) == 204800
    with pytest.raises(ValueError):
        bench.peak_rss_kib("Name:\tx\n")


def test_the_peers_table_sets_ours_beside_each_peer_round_by_round(configs):
    under_test = configs[0]
    peer = next(name for name in under_test if name.startswith("peer: "))
    spans = 100_000
    runs = [bench.Measurement(name, index, spans, 3.0, cpu, rss) for index in range(2)
            for name, cpu, rss in ((bench.RENDERED, 2.0 + index, 300.0), (peer, 1.0, 120.0),
                                   (bench.PASS_THROUGH, 0.5, 90.0))]
    rows = {row["config"]: row for row in bench.peers_table(bench.summarize(runs), runs, under_test[bench.RENDERED])}
    assert list(rows) == [bench.RENDERED, peer, bench.PASS_THROUGH]
    # Ours / the peer in spans per core: 1.0/2.0 and 1.0/3.0, round by round.
    assert rows[peer]["ours_share"] == {"median": 0.417, "min": 0.333, "max": 0.5}
    assert rows[peer]["peak_rss_mib"] == 120.0 and rows[bench.RENDERED]["ours_share"] is None
    assert rows[bench.RENDERED]["loses"] == {"60s": "nothing", "420s": "nothing"}
    assert rows[bench.PASS_THROUGH]["loses"] is None
    printed = bench.peers_report(list(rows.values()))
    assert peer in printed and "0.42" in printed and "- (no backend: a sink)" in printed
