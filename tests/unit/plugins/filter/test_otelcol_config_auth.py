# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The otelcol_config filter's authentication: bearer tokens on the OTLP receiver, scrape jobs over HTTPS
with a CA and basic auth, each refused without TLS; the rendered configs pass the lab collector's validate."""

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


def test_lab_build_gets_the_exporter_credentials_as_a_header_over_tls():
    exporter = otelcol_config(tls_spec(), "0.159.0")["exporters"]["otlp_http/metrics"]
    assert exporter["endpoint"].startswith("https://metrics.lab:")
    assert exporter["tls"] == {"ca_file": "/etc/otelcol/tls/ca.crt"}
    assert exporter["headers"]["Authorization"].startswith("Basic ")


@pytest.mark.skipif(not os.environ.get("LGTM_OTELCOL_BIN"), reason="LGTM_OTELCOL_BIN unset (make units sets it)")
def test_the_lab_collector_accepts_the_rendered_config(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(otelcol_config(tls_spec(), "0.159.0")), encoding="utf-8")
    result = subprocess.run([os.environ["LGTM_OTELCOL_BIN"], "validate", f"--config={path}"],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
