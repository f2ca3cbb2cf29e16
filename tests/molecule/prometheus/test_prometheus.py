"""The prometheus role leaves a hardened Prometheus that takes OTLP metrics,
keeps their exemplars and stores exponential histograms as native histograms,
and refuses bad input without changing anything."""
import json
import secrets
import time
import urllib.parse

import pytest
from lgtm_checks import (assert_checksum_mismatch_refused, assert_refused_unchanged, component_contract,
                         component_state, poll, role_defaults, WRONG_DIGEST)
# The refusal and lifecycle cases' host: a fixture, which pytest finds by its name in this module.
from lgtm_checks import first_host  # noqa: F401 # pylint: disable=unused-import

testinfra_hosts = ["ansible://all"]

VERSION = role_defaults("prometheus")["prometheus_version"]
CONFIG = "/etc/prometheus/prometheus.yml"
API = "http://127.0.0.1:9090"

globals().update(component_contract(
    service="prometheus", version=VERSION, binaries={"prometheus": "prometheus", "promtool": "promtool"},
    version_command="/usr/local/bin/prometheus --version", config_files=[CONFIG],
    data_dir="/var/lib/prometheus", ports=[9090]))


def _query(host, path, **params):
    result = host.run("curl -fsS %s", f"{API}{path}?{urllib.parse.urlencode(params)}")
    return json.loads(result.stdout) if result.rc == 0 else {}


def test_ready_and_config_checked_by_promtool(host):
    assert "Ready" in host.check_output(f"curl -fsS {API}/-/ready")
    assert host.run(f"/usr/local/bin/promtool check config {CONFIG}").rc == 0


def test_otlp_counter_exemplar_and_native_histogram_round_trip(host):
    job = f"lgtm-molecule-{secrets.token_hex(3)}"
    trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)
    now = time.time_ns()
    start = str(now - 10_000_000_000)
    payload = {"resourceMetrics": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": job}}]},
        "scopeMetrics": [{"scope": {"name": "molecule"}, "metrics": [
            {"name": "lgtm.molecule.orders", "sum": {
                "aggregationTemporality": 2, "isMonotonic": True,
                "dataPoints": [{"asInt": "3", "startTimeUnixNano": start, "timeUnixNano": str(now),
                                "exemplars": [{"asInt": "1", "timeUnixNano": str(now),
                                               "traceId": trace_id, "spanId": span_id}]}]}},
            {"name": "lgtm.molecule.latency", "unit": "s", "exponentialHistogram": {
                "aggregationTemporality": 2,
                "dataPoints": [{"count": "3", "sum": 0.9, "scale": 0, "zeroCount": "0",
                                "positive": {"offset": -2, "bucketCounts": ["1", "2"]},
                                "startTimeUnixNano": start, "timeUnixNano": str(now)}]}},
        ]}]}]}
    host.check_output("curl -fsS -H %s --data-binary %s %s", "Content-Type: application/json",
                      json.dumps(payload), f"{API}/api/v1/otlp/v1/metrics")

    def counter():
        body = _query(host, "/api/v1/query", query=f'lgtm_molecule_orders_total{{job="{job}"}}')
        return body.get("data", {}).get("result", [])
    result = poll(counter)
    assert result and result[0]["value"][1] == "3", result

    histogram = _query(host, "/api/v1/query", query=f'lgtm_molecule_latency_seconds{{job="{job}"}}')
    series = histogram["data"]["result"]
    assert series and "histogram" in series[0], f"not a native histogram: {series}"
    assert series[0]["histogram"][1]["count"] == "3"

    exemplars = _query(host, "/api/v1/query_exemplars", query=f'lgtm_molecule_orders_total{{job="{job}"}}',
                       start=str(now // 10**9 - 60), end=str(now // 10**9 + 60))
    labels = [exemplar["labels"] for group in exemplars["data"] for exemplar in group["exemplars"]]
    assert {"trace_id": trace_id, "span_id": span_id} in labels, labels


# Negative cases: apply the role again with bad input; the play must fail and
# leave the host exactly as it was.

def _state(host):
    return component_state(host, "prometheus", [CONFIG], "/usr/local/bin/prometheus")


def test_checksum_mismatch_fails_and_changes_nothing(first_host, tmp_path):
    host = first_host
    assert_checksum_mismatch_refused(host, lambda: _state(host), tmp_path, {}, "prometheus_checksum_url",
                                     "sha256sums.txt", f"{WRONG_DIGEST}  prometheus-{VERSION}.linux-amd64.tar.gz\n")


@pytest.mark.parametrize("override", [
    # Refused by the strict YAML parse: a key prometheus.yml does not have.
    {"global": {"no_such_option": True}},
    # Valid keys, refused by Prometheus' checks: a scrape timeout above the interval.
    {"global": {"scrape_interval": "10s", "scrape_timeout": "1m"}},
], ids=["unknown-key", "failed-check"])
def test_broken_config_fails_validation_and_changes_nothing(first_host, override):
    host = first_host
    assert_refused_unchanged(host, lambda: _state(host), {"prometheus_config_overrides": override},
                             "failed to validate")
    assert "Ready" in host.check_output(f"curl -fsS {API}/-/ready")


@pytest.mark.parametrize("extra_vars,named", [
    ({"prometheus_max_exemplars": "many"}, "prometheus_max_exemplars"),
    ({"prometheus_state": "gone"}, "prometheus_state"),
    ({"prometheus_listen_address": "9090"}, "prometheus_listen_address"),
    ({"prometheus_retention_time": "a fortnight"}, "prometheus_retention_time"),
], ids=["wrong-type", "unknown-choice", "not-host-port", "bad-duration"])
def test_bad_input_fails_before_any_change(first_host, extra_vars, named):
    host = first_host
    output = assert_refused_unchanged(host, lambda: _state(host), extra_vars, named)
    assert "changed=0" in output, output
