"""The pure part of benchmarks/gateway_fleet.py: the agent it runs is site.yml's host agent,
sending to one gateway host directly and balancing over two by trace ID, on loopback only, with
nothing read from the machine (no host metrics, no log files, no journal). With LGTM_OTELCOL_BIN
set (`make units` sets it), both agent configs pass the lab collector's own `validate`."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "benchmarks"))
import collector_throughput as bench  # noqa: E402  (benchmarks/ is not a package)
import gateway_fleet as fleet  # noqa: E402

AGENT = bench.Ports(sink_grpc=42001, sink_http=42002, sink_telemetry=42003, otlp_grpc=42004, otlp_http=42005,
                    health_check=42006, telemetry=42007, hop_grpc=42008)
GATEWAYS = [bench.Ports(*range(port, port + 8)) for port in (42101, 42201)]


def agent(gateways: int, queue: str = "/tmp/fleet-queue") -> dict:
    otelcol_config = bench.collector_filters()[0]
    return bench.plain(otelcol_config(fleet.agent_spec(GATEWAYS[:gateways], AGENT, 1024, queue), bench.collector_version()))


def test_one_gateway_is_sent_to_directly_and_two_are_balanced_by_trace_id() -> None:
    one = agent(1)["exporters"]
    assert [config["endpoint"] for config in one.values()] == ["127.0.0.1:42104"], "one exporter, the gateway's OTLP"
    two = agent(2)["exporters"]
    assert len(two) == 3 and {config["resolver"]["static"]["hostnames"] == ["127.0.0.1:42104", "127.0.0.1:42204"]
                              for config in two.values()} == {True}
    assert two["load_balancing/gateway_traces"].get("routing_key", "traceID") == "traceID"


def test_the_agent_reads_nothing_of_the_machine_and_listens_on_loopback() -> None:
    config = agent(2)
    assert set(config["receivers"]) == {"otlp"}
    assert {protocol["endpoint"] for protocol in config["receivers"]["otlp"]["protocols"].values()} == {
        "127.0.0.1:42004", "127.0.0.1:42005"}


@pytest.mark.skipif(not os.environ.get("LGTM_OTELCOL_BIN"), reason="LGTM_OTELCOL_BIN is not set (make units sets it)")
@pytest.mark.parametrize("gateways", [1, 2])
def test_the_agent_configs_pass_validate(tmp_path: Path, gateways: int) -> None:
    path = tmp_path / "agent.yaml"
    path.write_text(yaml.safe_dump(agent(gateways, str(tmp_path / "queue"))))
    result = subprocess.run([os.environ["LGTM_OTELCOL_BIN"], "validate", f"--config={path}"], capture_output=True,
                            text=True, check=False, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_port_sets_of_one_run_never_repeat_a_port() -> None:
    """The gateways and the agent are started one after another: ports chosen set by set could
    repeat (none is bound yet), which failed a make test run (the agent's OTLP port was a gateway's)."""
    numbers = [number for ports in bench.free_port_sets(3) for number in vars(ports).values()]
    assert len(numbers) == 3 * len(bench.Ports.__dataclass_fields__) == len(set(numbers))
