"""The jaeger role leaves a hardened Jaeger v2 that stores OTLP spans and answers
its query API, and refuses bad input without changing anything."""
import json

import pytest
import yaml
from lgtm_checks import (assert_checksum_mismatch_refused, assert_refused_unchanged, component_contract,
                         component_state, poll, role_defaults, send_otlp_span, WRONG_DIGEST)
# The refusal and lifecycle cases' host: a fixture, which pytest finds by its name in this module.
from lgtm_checks import first_host  # noqa: F401 # pylint: disable=unused-import

testinfra_hosts = ["ansible://all"]

VERSION = role_defaults("jaeger")["jaeger_version"]
CONFIG = "/etc/jaeger/config.yaml"
QUERY = "http://127.0.0.1:16686"

globals().update(component_contract(
    service="jaeger", version=VERSION, binaries={"jaeger": "jaeger"}, version_command="/usr/local/bin/jaeger version",
    config_files=[CONFIG], data_dir="/var/lib/jaeger", ports=[4317, 4318, 16686, 16685, 14133, 14269]))


def test_stores_traces_in_badger_on_disk(host):
    config = yaml.safe_load(host.file(CONFIG).content_string)
    badger = config["extensions"]["jaeger_storage"]["backends"]["local_badger"]["badger"]
    assert badger["ephemeral"] is False
    assert badger["directories"] == {"keys": "/var/lib/jaeger/keys", "values": "/var/lib/jaeger/values"}
    assert host.file("/var/lib/jaeger/keys").is_directory


def test_health_check_answers(host):
    assert host.run("curl -fsS http://127.0.0.1:14133/status").rc == 0


def test_accepts_an_otlp_span_and_returns_it_by_id(host):
    trace_id, span_name = send_otlp_span(host)

    def probe():
        result = host.run("curl -fsS %s", f"{QUERY}/api/v3/traces/{trace_id}")
        return result.stdout if result.rc == 0 and span_name in result.stdout else ""
    body = poll(probe)
    assert span_name in body, f"trace {trace_id} not returned within 30 s"
    spans = [span for resource in json.loads(body)["result"]["resourceSpans"]
             for scope in resource["scopeSpans"] for span in scope["spans"]]
    assert [span["traceId"] for span in spans] == [trace_id]


# Negative cases: apply the role again with bad input; the play must fail and
# leave the host exactly as it was.

def _state(host):
    return component_state(host, "jaeger", [CONFIG], "/usr/local/bin/jaeger")


def test_checksum_mismatch_fails_and_changes_nothing(first_host, tmp_path):
    # Upstream's file is `shasum -b` output: "<sha256> *<name>".
    host = first_host
    assert_checksum_mismatch_refused(host, lambda: _state(host), tmp_path, {}, "jaeger_checksum_url",
                                     f"jaeger-{VERSION}.sha256sum.txt",
                                     f"{WRONG_DIGEST} *jaeger-{VERSION}-linux-amd64.tar.gz\n")


@pytest.mark.parametrize("override", [
    # Unknown to the query extension's configuration.
    {"extensions": {"jaeger_query": {"no_such_option": True}}},
    # Valid keys, but the pipeline names a receiver that is not configured.
    {"service": {"pipelines": {"traces": {"receivers": ["otlp", "zipkin"]}}}},
], ids=["unknown-key", "failed-check"])
def test_broken_config_fails_validation_and_changes_nothing(first_host, override):
    host = first_host
    assert_refused_unchanged(host, lambda: _state(host), {"jaeger_config_overrides": override}, "failed to validate")
    assert host.run("curl -fsS http://127.0.0.1:14133/status").rc == 0


@pytest.mark.parametrize("extra_vars,named", [
    ({"jaeger_purge_data": "perhaps"}, "jaeger_purge_data"),
    ({"jaeger_state": "gone"}, "jaeger_state"),
    ({"jaeger_query_grpc_endpoint": "0.0.0.0:16686"}, "distinct ports"),
    ({"jaeger_span_retention": "a week"}, "jaeger_span_retention"),
], ids=["wrong-type", "unknown-choice", "port-clash", "bad-duration"])
def test_bad_input_fails_before_any_change(first_host, extra_vars, named):
    host = first_host
    output = assert_refused_unchanged(host, lambda: _state(host), extra_vars, named)
    assert "changed=0" in output, output
