"""benchmarks/peer_configs.py: the peers' published configs, what the throughput benchmark runs of them,
and what each loses in an outage as read from its exporters.

The benchmark's run of them is not a test (it prints figures); what is checked here is that every
peer file names where it came from, that the benchmark runs the peer's own traces path (its
processors and its exporters' queue and retry settings, only the listeners and the sink moved), and
the outage reading. tests/lab/test_collector_throughput.py runs every config, the peers' included,
through the lab collector's `validate`.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "benchmarks"))
import peer_configs as peers  # noqa: E402  (benchmarks/ is not a package)

TELEMETRY = {"logs": {"level": "warn"}}
ENDPOINTS = ("127.0.0.1:41004", "127.0.0.1:41001", "http://127.0.0.1:41002")


def bench(config: dict) -> dict:
    return peers.bench_config(config, *ENDPOINTS, TELEMETRY)


@pytest.mark.parametrize("path", sorted(peers.PEERS_DIR.glob("*.yaml")), ids=lambda path: path.stem)
def test_every_peer_names_its_repository_tag_and_licence(path):
    header = [line for line in path.read_text().splitlines() if line.startswith("#")]
    assert any(line.startswith("# Source: ") and ", tag " in line for line in header), header
    assert any("Licence of the repository:" in line for line in header), header


def test_the_three_peers_of_issue_18_are_there():
    assert set(peers.load_peers()) == {"docker-otel-lgtm", "grafana-ansible-collection",
                                       "helm-opentelemetry-collector"}


@pytest.mark.parametrize("name", sorted(peers.load_peers()))
def test_the_benchmark_runs_the_peers_traces_path_with_only_listeners_and_sink_moved(name):
    peer = peers.load_peers()[name]
    config = bench(peer)
    assert config["receivers"] == {"otlp": {"protocols": {"grpc": {"endpoint": ENDPOINTS[0]}}}}
    assert list(config["service"]["pipelines"]) == ["traces"]
    pipeline = config["service"]["pipelines"]["traces"]
    original = peer["service"]["pipelines"]["traces"]
    assert pipeline["receivers"] == ["otlp"]
    assert pipeline.get("processors") == original.get("processors")
    assert config.get("processors", {}) == {key: peer["processors"][key] for key in original.get("processors", [])}
    for exporter in config["exporters"].values():
        assert exporter["endpoint"] in ENDPOINTS[1:]
    assert config["service"]["telemetry"] == TELEMETRY
    assert "extensions" not in config


def test_exporters_keep_their_protocol_queue_and_retry_and_connectors_their_pipelines():
    peer = yaml.safe_load("""
receivers: {otlp: {protocols: {grpc: {}}}, zipkin: {}}
processors: {batch: {}}
connectors: {spanmetrics: {}}
exporters:
  otlphttp/tempo: {endpoint: "http://tempo:4318", sending_queue: {queue_size: 50}, retry_on_failure: {max_elapsed_time: 0s}}
  otlp/mimir: {endpoint: "mimir:4317", compression: zstd}
service:
  pipelines:
    traces: {receivers: [otlp, zipkin], processors: [batch], exporters: [otlphttp/tempo, spanmetrics]}
    metrics/spans: {receivers: [spanmetrics], exporters: [otlp/mimir]}
    logs: {receivers: [otlp], exporters: [otlp/mimir]}
""")
    config = bench(peer)
    assert config["exporters"] == {
        "otlp_http/tempo": {"endpoint": ENDPOINTS[2], "sending_queue": {"queue_size": 50},
                            "retry_on_failure": {"max_elapsed_time": "0s"}},
        "otlp_grpc/mimir": {"endpoint": ENDPOINTS[1], "tls": {"insecure": True}, "compression": "zstd"}}
    assert config["service"]["pipelines"] == {
        "traces": {"receivers": ["otlp"], "processors": ["batch"], "exporters": ["otlp_http/tempo", "spanmetrics"]},
        "metrics/spans": {"receivers": ["spanmetrics"], "exporters": ["otlp_grpc/mimir"]}}
    assert config["connectors"] == {"spanmetrics": {}}


def test_a_config_without_an_otlp_traces_pipeline_is_refused():
    with pytest.raises(ValueError, match="no traces pipeline"):
        peers.traces_path({"service": {"pipelines": {"traces": {"receivers": ["zipkin"], "exporters": ["debug"]}}}})


def losses(exporter: dict, kind: str = "otlp_grpc/backend") -> dict:
    return peers.outage_losses({"exporters": {kind: exporter}, "service": {"pipelines": {
        "traces": {"receivers": ["otlp"], "exporters": [kind]}}}})


def test_the_exporter_helpers_defaults_lose_the_memory_queue_on_restart_and_whatever_outlasts_300_s():
    assert losses({}) == {"60s": "the queue in memory, if the collector restarts",
                          "420s": "the queue in memory, if the collector restarts; "
                                  "what waits longer than its 300 s retry cap"}


def test_a_disk_queue_that_retries_until_stored_loses_nothing():
    assert losses({"sending_queue": {"storage": "file_storage/queue"},
                   "retry_on_failure": {"max_elapsed_time": "0s"}}) == {"60s": "nothing", "420s": "nothing"}


def test_a_cap_counts_only_when_the_outage_outlasts_it():
    found = losses({"sending_queue": {"storage": "file_storage/queue"}, "retry_on_failure": {"max_elapsed_time": "5m"}})
    assert found == {"60s": "nothing", "420s": "what waits longer than its 300 s retry cap"}


@pytest.mark.parametrize("exporter", [{"sending_queue": {"enabled": False}}, {"retry_on_failure": {"enabled": False}}])
def test_no_queue_or_no_retries_loses_every_failed_request(exporter):
    assert set(losses(exporter).values()) == {"every request that fails (no queue or no retries)"}


def test_a_debug_exporter_has_no_backend_to_lose_data_in():
    assert set(losses({}, "debug").values()) == {"no backend to lose data in (debug exporter)"}


@pytest.mark.parametrize("value,expected", [("300s", 300.0), ("5m", 300.0), ("250ms", 0.25), ("1h", 3600.0), (0, 0.0)])
def test_durations_read_as_the_collector_writes_them(value, expected):
    assert peers.seconds(value) == expected


def test_a_duration_of_no_form_is_refused():
    with pytest.raises(ValueError, match="not a duration"):
        peers.seconds("soon")
