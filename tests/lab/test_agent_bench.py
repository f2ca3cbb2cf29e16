"""The pure parts of benchmarks/agent_bench.py: the agent config it runs, the load it writes, the figures.

The benchmark's own run is not a test (it prints figures, it asserts no speed);
what is checked here is that it measures site.yml's host agent with only the
file it reads, its gateway, its data folder and its listeners changed, writes
the lines it counts, and reads a collection's series off the agent's counter.
With LGTM_OTELCOL_BIN set (`make units` sets it), both configs also pass the lab
collector's own `validate`.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "benchmarks"))
import agent_bench  # noqa: E402  (benchmarks/ is not a package)
import collector_throughput as bench  # noqa: E402

PORTS = bench.Ports(sink_grpc=42001, sink_http=42002, sink_telemetry=42003, otlp_grpc=42004, otlp_http=42005,
                    health_check=42006, telemetry=42007, hop_grpc=42008)
WORKDIR = Path("/run/agent-bench")


@pytest.fixture(scope="module")
def configs() -> tuple[dict, dict, str]:
    return agent_bench.configs(PORTS, WORKDIR)


def test_the_spec_is_site_ymls_host_agent_with_only_file_gateway_and_folder_changed():
    spec = agent_bench.agent_spec(PORTS, WORKDIR / "app.log", WORKDIR / "data")
    stack = yaml.safe_load((REPO / "playbooks" / "vars" / "stack.yml").read_text())["lgtm_stack_host_agent_spec"]
    assert set(spec) == set(stack)
    assert spec["backends"] == {"gateway": {"type": "otlp", "endpoint": f"127.0.0.1:{PORTS.sink_grpc}"}}
    assert spec["receivers"]["filelog/host"] == {"include": [str(WORKDIR / "app.log")],
                                                 "offsets_directory": str(WORKDIR / "data" / "offsets")}
    assert "journald" not in spec["receivers"]
    assert spec["receivers"]["hostmetrics"] == {}, "host metrics as site.yml has them: every default scraper"
    # max_mib as site.yml leaves it without lgtm_collector_queue_max_mib: none given, the filter's default.
    assert spec["persistent_queue"] == {"directory": str(WORKDIR / "data" / "queue"), "max_mib": None}


def test_the_agent_reads_the_file_and_its_host_and_sends_only_to_the_sink(configs):
    rendered, sink, limit = configs
    assert limit.endswith("MiB")
    assert agent_bench.host_metrics_receiver(rendered) in rendered["service"]["pipelines"]["metrics"]["receivers"]
    assert [exporter["endpoint"] for exporter in rendered["exporters"].values()] == [f"127.0.0.1:{PORTS.sink_grpc}"]
    assert sink["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"] == f"127.0.0.1:{PORTS.sink_grpc}"
    file_logs = [config for name, config in rendered["receivers"].items() if name.startswith("file_log")]
    assert [config["include"] for config in file_logs] == [[str(WORKDIR / "app.log")]]
    assert all(str(WORKDIR) in extension["directory"] for name, extension in rendered["extensions"].items()
               if name.startswith("file_storage"))


@pytest.mark.skipif(not os.environ.get("LGTM_OTELCOL_BIN"), reason="LGTM_OTELCOL_BIN unset (make units sets it)")
def test_both_configs_pass_the_lab_collectors_validate(configs, tmp_path):
    rendered, sink, _limit = configs
    for name, config in {"agent": rendered, "sink": sink}.items():
        path = tmp_path / "config.yaml"
        path.write_text(yaml.safe_dump(config))
        result = subprocess.run([os.environ["LGTM_OTELCOL_BIN"], "validate", f"--config={path}"],
                                capture_output=True, text=True, check=False, timeout=120)
        assert result.returncode == 0, f"{name}: {result.stdout}{result.stderr}"


def test_lines_have_one_length_and_are_distinct():
    lines = [agent_bench.log_line(index) for index in (0, 1, 999, 10 ** 6)]
    assert {len(line.encode()) for line in lines} == {agent_bench.LINE_BYTES}
    assert len(set(lines)) == len(lines) and all(line.count("\n") == 1 for line in lines)


def test_the_writer_writes_exactly_its_rate_times_its_seconds(tmp_path):
    path = tmp_path / "app.log"
    assert agent_bench.write_lines(path, 500, 0.5) == 250
    assert len(path.read_text().splitlines()) == 250
    assert agent_bench.lines_due(10000, 0.0123) == 123


def test_series_are_the_last_whole_collection():
    assert agent_bench.series_per_collection([0]) == 0
    assert agent_bench.series_per_collection([0, 57]) == 57
    assert agent_bench.series_per_collection([0, 55, 112]) == 57


def test_a_config_without_one_host_metrics_receiver_is_refused():
    with pytest.raises(bench.RunFailed, match="one host metrics receiver"):
        agent_bench.host_metrics_receiver({"receivers": {"otlp": {}}})


def test_cpu_share_is_cpu_over_wall():
    run = agent_bench.AgentRun(rate=1000, lines=20000, wall_s=20.0, cpu_s=1.0, peak_rss_mib=80.0, series=60)
    assert run.core_share == pytest.approx(0.05)
    table = agent_bench.report({"runs": [{"lines_per_s": 1000, "lines": 20000, "wall_s": 20.0, "cpu_s": 1.0,
                                          "core_share": 0.05, "peak_rss_mib": 80.0, "host_metric_series": 60}]})
    assert "5.0" in table.splitlines()[1]
