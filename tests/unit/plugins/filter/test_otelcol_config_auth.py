# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The otelcol_config filter's authentication: bearer tokens on the OTLP receiver, scrape jobs over HTTPS
with a CA and basic auth or a token file (a pod's service account), each refused without TLS; the rendered
configs pass the lab collector's validate."""

from __future__ import annotations

import copy
import os
import subprocess
from pathlib import Path
from typing import Any, Dict

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.observability.lgtm.plugins.filter.otelcol_config import otelcol_config

LAB_MANIFEST: Dict[str, Any] = yaml.safe_load(
    (Path(__file__).resolve().parents[4] / "lab" / "otelcol-builder.yaml").read_text(encoding="utf-8"))
TLS = {"cert_file": "/etc/otelcol/tls/tls.crt", "key_file": "/etc/otelcol/tls/tls.key"}


def tls_spec() -> Dict[str, Any]:
    return {
        "memory": {"host_mib": 2048},
        "distribution": copy.deepcopy(LAB_MANIFEST),
        "receivers": {
            "otlp": {"tls": dict(TLS), "auth": {"bearer_tokens": ["token-a", "token-b"]}},
            "prometheus/stack": {"scrape_configs": [
                {"job_name": "lgtm-stack", "targets": ["127.0.0.1:8888"]},
                {"job_name": "lgtm-stack-metrics", "job": "lgtm-stack", "targets": ["metrics.lab:9090"],
                 "scheme": "https", "ca_file": "/etc/otelcol/tls/ca.crt",
                 "basic_auth": {"username": "collector", "password": "scrape-pass"}}]},
        },
        "backends": {
            "traces": {"type": "jaeger", "host": "traces.lab", "tls": {"ca_file": "/etc/otelcol/tls/ca.crt"}},
            "metrics": {"type": "prometheus", "host": "metrics.lab", "tls": {"ca_file": "/etc/otelcol/tls/ca.crt"},
                        "auth": {"username": "collector", "password": "export-pass"}},
        },
        "pipelines": {
            "traces": {"receivers": ["otlp"], "exporters": ["traces"]},
            "metrics": {"receivers": ["otlp", "prometheus/stack"], "exporters": ["metrics"]},
        },
    }


def render_error(spec: Dict[str, Any]) -> str:
    with pytest.raises(AnsibleFilterError) as error:
        otelcol_config(spec, "0.159.0")
    return str(error.value)


def test_bearer_tokens_guard_both_otlp_protocols_through_one_extension():
    config = otelcol_config(tls_spec(), "0.159.0")
    for protocol in ("grpc", "http"):
        settings = config["receivers"]["otlp"]["protocols"][protocol]
        assert settings["auth"] == {"authenticator": "bearertokenauth/otlp"}
        assert settings["tls"] == TLS
    assert config["extensions"]["bearertokenauth/otlp"] == {"scheme": "Bearer", "tokens": ["token-a", "token-b"]}
    assert "bearertokenauth/otlp" in config["service"]["extensions"]


def test_bearer_tokens_without_tls_are_refused():
    spec = tls_spec()
    del spec["receivers"]["otlp"]["tls"]
    assert "spec.receivers.otlp.auth: bearer tokens need TLS on the receiver" in render_error(spec)


def test_an_empty_token_is_refused():
    spec = tls_spec()
    spec["receivers"]["otlp"]["auth"] = {"bearer_tokens": [""]}
    assert "spec.receivers.otlp.auth.bearer_tokens" in render_error(spec)


def test_a_build_without_bearertokenauth_is_told():
    spec = tls_spec()
    spec["distribution"]["extensions"] = [e for e in spec["distribution"]["extensions"]
                                          if "bearertokenauth" not in e["gomod"]]
    assert "needs the extension type 'bearertokenauth'" in render_error(spec)


def test_https_scrape_job_carries_its_ca_credentials_and_shared_job_label():
    config = otelcol_config(tls_spec(), "0.159.0")
    jobs = config["receivers"]["prometheus/stack"]["config"]["scrape_configs"]
    assert "scheme" not in jobs[0] and "relabel_configs" not in jobs[0]
    assert jobs[1]["scheme"] == "https"
    assert jobs[1]["tls_config"] == {"ca_file": "/etc/otelcol/tls/ca.crt"}
    assert jobs[1]["basic_auth"] == {"username": "collector", "password": "scrape-pass"}
    assert jobs[1]["relabel_configs"] == [{"target_label": "job", "replacement": "lgtm-stack"}]


@pytest.mark.parametrize("key", ["basic_auth", "ca_file"])
def test_scrape_credentials_or_ca_over_plain_http_are_refused(key):
    spec = tls_spec()
    job = spec["receivers"]["prometheus/stack"]["scrape_configs"][1]
    del job["scheme"]
    del job["ca_file" if key == "basic_auth" else "basic_auth"]
    assert f"scrape_configs[1].{key}: " in render_error(spec)


SERVICE_ACCOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"


def with_kubelet_jobs(spec: Dict[str, Any], **job: Any) -> Dict[str, Any]:
    """The spec with a third job: a node's kubelet, scraped with a token file."""
    spec["receivers"]["prometheus/stack"]["scrape_configs"].append(dict(
        {"job_name": "kubelet", "targets": ["${env:K8S_NODE_IP}:10250"], "metrics_path": "/metrics/resource",
         "scheme": "https"}, **job))
    return spec


def test_a_job_sends_a_token_file_and_may_take_its_host_from_the_environment():
    config = otelcol_config(with_kubelet_jobs(tls_spec(), bearer_token_file="/run/token", ca_file="/run/ca.crt"),
                            "0.159.0")
    job = config["receivers"]["prometheus/stack"]["config"]["scrape_configs"][2]
    assert job["static_configs"] == [{"targets": ["${env:K8S_NODE_IP}:10250"]}]
    assert job["authorization"] == {"type": "Bearer", "credentials_file": "/run/token"}
    assert job["tls_config"] == {"ca_file": "/run/ca.crt"}


@pytest.mark.parametrize("insecure,tls_config", [
    (False, {"ca_file": f"{SERVICE_ACCOUNT}/ca.crt"}),
    (True, {"insecure_skip_verify": True}),
])
def test_a_job_with_the_service_account_sends_its_token_and_checks_against_the_clusters_ca(insecure, tls_config):
    spec = with_kubelet_jobs(tls_spec(), service_account=True, insecure_skip_verify=insecure)
    job = otelcol_config(spec, "0.159.0")["receivers"]["prometheus/stack"]["config"]["scrape_configs"][2]
    assert job["authorization"] == {"type": "Bearer", "credentials_file": f"{SERVICE_ACCOUNT}/token"}
    assert job["tls_config"] == tls_config


@pytest.mark.parametrize("job,message", [
    ({"bearer_token_file": "/run/token", "scheme": "http"},
     "scrape_configs[2].bearer_token_file: credentials are sent only over scheme 'https'"),
    ({"bearer_token_file": "token"}, "scrape_configs[2].bearer_token_file: expected an absolute path, got 'token'"),
    ({"bearer_token_file": "/run/token", "basic_auth": {"username": "u", "password": "p"}},
     "scrape_configs[2]: basic_auth and bearer_token_file are both sent as the Authorization header"),
    ({"service_account": True, "ca_file": "/run/ca.crt"},
     "scrape_configs[2].service_account: only with scheme 'https' and without ca_file"),
    ({"service_account": True, "scheme": "http"}, "scrape_configs[2].service_account: only with scheme 'https'"),
    ({"insecure_skip_verify": True, "ca_file": "/run/ca.crt"},
     "scrape_configs[2].insecure_skip_verify: only with scheme 'https' and without ca_file"),
    ({"insecure_skip_verify": "yes please"}, "scrape_configs[2].insecure_skip_verify"),
    ({"targets": ["${env:K8S_NODE_IP}:70000"]}, "scrape_configs[2].targets[0]: port 70000 is out of range"),
    ({"targets": ["${NODE}:10250"]}, "scrape_configs[2].targets[0]: '${NODE}:10250' is not an explicit listen address"),
    ({"keep_metrics": []}, "scrape_configs[2].keep_metrics: expected a non-empty list of metric names"),
    ({"keep_metrics": ["up", "a|b"]}, "scrape_configs[2].keep_metrics[1]: 'a|b' is not a metric name"),
])
def test_bad_token_and_tls_settings_of_a_job_are_refused_by_name(job, message):
    assert message in render_error(with_kubelet_jobs(tls_spec(), **job))


def test_a_job_keeps_only_the_metrics_it_names():
    spec = with_kubelet_jobs(tls_spec(), service_account=True, keep_metrics=[
        "container_memory_working_set_bytes", "machine_cpu_cores", "machine_cpu_cores"])
    job = otelcol_config(spec, "0.159.0")["receivers"]["prometheus/stack"]["config"]["scrape_configs"][2]
    assert job["metric_relabel_configs"][1:] == [
        {"source_labels": ["__name__"], "regex": "container_memory_working_set_bytes|machine_cpu_cores",
         "action": "keep"}]


def test_lab_build_gets_the_exporter_credentials_as_a_header_over_tls():
    exporter = otelcol_config(tls_spec(), "0.159.0")["exporters"]["otlp_http/metrics"]
    assert exporter["endpoint"].startswith("https://metrics.lab:")
    assert exporter["tls"] == {"ca_file": "/etc/otelcol/tls/ca.crt"}
    assert exporter["headers"]["Authorization"].startswith("Basic ")


@pytest.mark.skipif(not os.environ.get("LGTM_OTELCOL_BIN"), reason="LGTM_OTELCOL_BIN unset (make units sets it)")
def test_the_lab_collector_accepts_the_rendered_config(tmp_path):
    # The collector refuses a credentials file that is not there: a token where a pod has its own.
    token = tmp_path / "token"
    token.write_text("a-token", encoding="utf-8")
    path = tmp_path / "config.yaml"
    spec = with_kubelet_jobs(tls_spec(), bearer_token_file=str(token), insecure_skip_verify=True,
                             keep_metrics=["container_memory_working_set_bytes", "machine_cpu_cores"])
    path.write_text(yaml.safe_dump(otelcol_config(spec, "0.159.0")), encoding="utf-8")
    result = subprocess.run([os.environ["LGTM_OTELCOL_BIN"], "validate", f"--config={path}"],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
