# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Several gateways: a backend balanced over several collectors (otelcol_read_backend, otelcol_render)
and the stack's own scrape shared among them (otelcol_read_access). Rendered configs are checked by
the lab collector's `validate` where LGTM_OTELCOL_BIN is set (make units sets it)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any, Dict

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.observability.lgtm.plugins.filter.otelcol_config import otelcol_config

SIGNALS = ("traces", "metrics", "logs")


def agent_spec(gateway: Dict[str, Any], queue: bool = True) -> Dict[str, Any]:
    spec: Dict[str, Any] = {
        "memory": {"limit_mib": 400},
        "backends": {"gateway": {"type": "otlp", **gateway}},
        "pipelines": {signal: {"receivers": ["otlp"], "exporters": ["gateway"]} for signal in SIGNALS},
    }
    if queue:
        spec["persistent_queue"] = {"directory": "/var/lib/otelcol/queue", "max_mib": 300}
    return spec


def render_error(spec: Any) -> str:
    with pytest.raises(AnsibleFilterError) as caught:
        otelcol_config(spec)
    return str(caught.value)


def validate(config: Dict[str, Any], tmp_path: Path) -> None:
    binary = os.environ.get("LGTM_OTELCOL_BIN")
    if not binary:
        pytest.skip("LGTM_OTELCOL_BIN unset (make units sets it)")
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    result = subprocess.run([binary, "validate", f"--config={path}"], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


def test_a_dns_balanced_backend_gets_one_exporter_per_signal_routed_by_trace_and_by_resource(tmp_path: Path) -> None:
    config = otelcol_config(agent_spec({"load_balancing": {"dns": "otelcol-gateway-headless.obs.svc:4317"}}))
    assert sorted(config["exporters"]) == [f"load_balancing/gateway_{signal}" for signal in sorted(SIGNALS)]
    routing = {signal: config["exporters"][f"load_balancing/gateway_{signal}"]["routing_key"] for signal in SIGNALS}
    assert routing == {"traces": "traceID", "metrics": "resource", "logs": "resource"}
    for signal in SIGNALS:
        assert config["service"]["pipelines"][signal]["exporters"] == [f"load_balancing/gateway_{signal}"]
    traces = config["exporters"]["load_balancing/gateway_traces"]
    assert traces["resolver"] == {"dns": {"hostname": "otelcol-gateway-headless.obs.svc", "port": "4317",
                                          "interval": "5s"}}
    validate(config, tmp_path)


def test_the_queue_and_retries_are_the_load_balancers_and_the_per_gateway_exporter_keeps_nothing() -> None:
    exporter = otelcol_config(agent_spec({"load_balancing": {"static": ["gw1:4317", "gw2:4317"]}}))[
        "exporters"]["load_balancing/gateway_logs"]
    assert exporter["sending_queue"]["storage"] == "file_storage/queue"
    assert exporter["sending_queue"]["sizer"] == "bytes"
    assert exporter["retry_on_failure"]["max_elapsed_time"] == "0s", "retried until a gateway takes it"
    otlp = exporter["protocol"]["otlp"]
    assert otlp["sending_queue"] == {"enabled": False} and otlp["retry_on_failure"] == {"enabled": False}
    assert "endpoint" not in otlp and otlp["tls"] == {"insecure": True}
    assert exporter["resolver"] == {"static": {"hostnames": ["gw1:4317", "gw2:4317"]}}


def test_with_tls_a_dns_balanced_backend_checks_the_certificate_against_the_name() -> None:
    tls = {"ca_file": "/etc/otelcol/tls/ca.crt"}
    otlp = otelcol_config(agent_spec({"load_balancing": {"dns": "gw.obs.svc:4317"}, "tls": tls}))[
        "exporters"]["load_balancing/gateway_traces"]["protocol"]["otlp"]
    assert otlp["tls"] == {"ca_file": "/etc/otelcol/tls/ca.crt", "server_name_override": "gw.obs.svc"}
    otlp = otelcol_config(agent_spec({"load_balancing": {"dns": "gw.obs.svc:4317"},
                                      "tls": dict(tls, server_name="gateway.example")}))[
        "exporters"]["load_balancing/gateway_traces"]["protocol"]["otlp"]
    assert otlp["tls"]["server_name_override"] == "gateway.example"


def test_an_older_collector_gets_the_old_type_name() -> None:
    config = otelcol_config(dict(agent_spec({"load_balancing": {"dns": "gw:4317"}}, queue=False), collector_version="0.152.0"))
    assert "loadbalancing/gateway_traces" in config["exporters"]


def test_one_gateway_stays_a_plain_otlp_exporter() -> None:
    config = otelcol_config(agent_spec({"endpoint": "gw1:4317"}))
    assert list(config["exporters"]) == ["otlp_grpc/gateway"]


@pytest.mark.parametrize(("gateway", "message"), [
    ({"endpoint": "gw:4317", "load_balancing": {"dns": "gw:4317"}},
     "spec.backends.gateway: give 'endpoint' (one collector) or 'load_balancing' (several), not both"),
    ({"protocol": "http", "load_balancing": {"dns": "gw:4317"}},
     "spec.backends.gateway.load_balancing: only a backend of type 'otlp' with protocol 'grpc' balances"),
    ({"load_balancing": {}}, "spec.backends.gateway.load_balancing: give one of dns"),
    ({"load_balancing": {"dns": "gw:4317", "static": ["gw:4317"]}}, "got dns, static"),
    ({"load_balancing": {"dns": "http://gw:4317"}},
     "spec.backends.gateway.load_balancing.dns: 'http://gw:4317' is not \"host:port\""),
    ({"load_balancing": {"static": ["gw1:4317", "gw2"]}}, "spec.backends.gateway.load_balancing.static[1]: 'gw2'"),
    ({"load_balancing": {"static": ["gw1:4317", "gw1:4317"]}}, "load_balancing.static: lists a collector twice"),
    ({"load_balancing": {"static": ["gw1:4317"], "interval": "5s"}},
     "load_balancing.interval: only a dns name is resolved again"),
    ({"load_balancing": {"dns": "gw:99999"}}, "load_balancing.dns: port 99999 is out of range"),
    ({"load_balancing": {"dns": "gw:4317", "ttl": 5}}, "load_balancing.ttl: unknown key"),
], ids=["both", "http", "neither", "two", "scheme", "no-port", "twice", "static-interval", "port", "unknown"])
def test_bad_load_balancing_is_refused_naming_the_path(gateway: Dict[str, Any], message: str) -> None:
    assert message in render_error(agent_spec(gateway))


def scrape_spec(job: Dict[str, Any]) -> Dict[str, Any]:
    return {"memory": {"limit_mib": 400}, "backends": {"debug": {"type": "debug"}},
            "receivers": {"prometheus/stack": {"scrape_configs": [
                {"job_name": "lgtm-stack-jaeger", "targets": ["jaeger:14269"], **job}]}},
            "pipelines": {"metrics": {"receivers": ["prometheus/stack"], "exporters": ["debug"]}}}


def test_a_shared_scrape_keeps_the_targets_that_hash_to_this_collector(tmp_path: Path) -> None:
    config = otelcol_config(scrape_spec({"job": "lgtm-stack", "shard": {"count": 2, "index": "${env:K8S_POD_INDEX}"}}))
    job = config["receivers"]["prometheus/stack"]["config"]["scrape_configs"][0]
    assert job["relabel_configs"] == [
        {"target_label": "job", "replacement": "lgtm-stack"},
        {"source_labels": ["__address__"], "modulus": 2, "target_label": "__tmp_lgtm_shard", "action": "hashmod"},
        {"source_labels": ["__tmp_lgtm_shard"], "regex": "${env:K8S_POD_INDEX}", "action": "keep"}]
    os.environ.setdefault("K8S_POD_INDEX", "1")
    validate(config, tmp_path)


def test_a_collectors_own_series_are_named_by_it() -> None:
    job = otelcol_config(scrape_spec({"instance": "gw1"}))["receivers"]["prometheus/stack"]["config"][
        "scrape_configs"][0]
    assert job["relabel_configs"] == [{"target_label": "instance", "replacement": "gw1"}]


@pytest.mark.parametrize(("shard", "message"), [
    ({"count": 0, "index": 0}, "shard.count: "),
    ({"count": 2, "index": 2}, "shard.index: 2 is not between 0 and 1"),
    ({"count": 2}, "shard.index: expected this collector's number"),
    ({"count": 2, "index": "first"}, "shard.index: 'first' is neither a number nor ${env:NAME}"),
    ({"count": 2, "index": True}, "shard.index: expected this collector's number"),
    ({"count": 2, "index": 0, "of": 3}, "shard.of: unknown key"),
], ids=["count", "index-range", "index-missing", "index-word", "index-bool", "unknown"])
def test_bad_shards_are_refused_naming_the_path(shard: Dict[str, Any], message: str) -> None:
    assert f"spec.receivers.prometheus/stack.scrape_configs[0].{message}" in render_error(scrape_spec({"shard": shard}))
