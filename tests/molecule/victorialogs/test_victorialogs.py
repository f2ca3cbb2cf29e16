"""The victorialogs role leaves a hardened VictoriaLogs that takes OTLP logs and
finds a record by its trace ID, and refuses bad input without changing anything."""
import base64
import json
import secrets
import time
import urllib.parse

import pytest
from lgtm_checks import (assert_checksum_mismatch_refused, assert_refused_unchanged, component_contract,
                         component_state, lifecycle_tests, poll, role_defaults, WRONG_DIGEST)
# The refusal and lifecycle cases' host: a fixture, which pytest finds by its name in this module.
from lgtm_checks import first_host  # noqa: F401 # pylint: disable=unused-import
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

testinfra_hosts = ["ansible://all"]

VERSION = role_defaults("victorialogs")["victorialogs_version"]
FLAGS = "/etc/victorialogs/flags.env"
API = "http://127.0.0.1:9428"

globals().update(component_contract(
    service="victorialogs", version=VERSION, binaries={"victoria-logs-prod": "victoria-logs-prod"},
    version_command="/usr/local/bin/victoria-logs-prod -version", config_files=[FLAGS],
    data_dir="/var/lib/victorialogs", ports=[9428]))


def test_flags_reach_the_service(host):
    command = host.check_output("cat /proc/$(systemctl show -p MainPID --value victorialogs)/cmdline | tr '\\0' ' '")
    assert "-storageDataPath=/var/lib/victorialogs/data" in command
    assert "-retentionPeriod=7d" in command
    assert host.check_output(f"curl -fsS {API}/health") == "OK"


def test_otlp_log_record_is_found_by_its_trace_id(host):
    """VictoriaLogs takes OTLP logs as protobuf only: the record is encoded here."""
    trace_id, span_id = secrets.token_bytes(16), secrets.token_bytes(8)
    message = f"molecule order {secrets.token_hex(4)}"
    record = LogRecord(time_unix_nano=time.time_ns(), severity_text="INFO", trace_id=trace_id, span_id=span_id,
                       body=AnyValue(string_value=message))
    request = ExportLogsServiceRequest(resource_logs=[ResourceLogs(
        resource=Resource(attributes=[KeyValue(key="service.name", value=AnyValue(string_value="lgtm-molecule"))]),
        scope_logs=[ScopeLogs(log_records=[record])])])
    encoded = base64.b64encode(request.SerializeToString()).decode()
    host.check_output(f"echo {encoded} | base64 -d | curl -fsS -H 'Content-Type: application/x-protobuf' "
                      f"--data-binary @- {API}/insert/opentelemetry/v1/logs")

    query = urllib.parse.urlencode({"query": f"trace_id:={trace_id.hex()}"})

    def probe():
        result = host.run("curl -fsS %s", f"{API}/select/logsql/query?{query}")
        return [json.loads(line) for line in result.stdout.splitlines()] if result.rc == 0 else []
    entries = poll(probe)
    assert len(entries) == 1, entries
    assert entries[0]["_msg"] == message
    assert entries[0]["span_id"] == span_id.hex()
    assert entries[0]["service.name"] == "lgtm-molecule"


# Negative cases: apply the role again with bad input; the play must fail and
# leave the host exactly as it was.

def _state(host):
    return component_state(host, "victorialogs", [FLAGS], "/usr/local/bin/victoria-logs-prod")


def test_checksum_mismatch_fails_and_changes_nothing(first_host, tmp_path):
    host = first_host
    assert_checksum_mismatch_refused(host, lambda: _state(host), tmp_path, {}, "victorialogs_checksum_url",
                                     f"victoria-logs-linux-amd64-v{VERSION}_checksums.txt",
                                     f"{WRONG_DIGEST}  victoria-logs-linux-amd64-v{VERSION}.tar.gz\n")


@pytest.mark.parametrize("flags", [
    # A flag the binary does not have.
    {"noSuchFlag": "1"},
    # A flag it has, with a value its parser refuses.
    {"retention.maxDiskSpaceUsageBytes": "lots"},
], ids=["unknown-flag", "bad-value"])
def test_flags_the_binary_refuses_fail_and_change_nothing(first_host, flags):
    host = first_host
    assert_refused_unchanged(host, lambda: _state(host), {"victorialogs_extra_flags": flags}, "failed to validate")
    assert host.check_output(f"curl -fsS {API}/health") == "OK"


@pytest.mark.parametrize("extra_vars,named", [
    ({"victorialogs_extra_flags": ["noSuchFlag"]}, "victorialogs_extra_flags"),
    ({"victorialogs_log_level": "LOUD"}, "victorialogs_log_level"),
    ({"victorialogs_listen_address": "9428"}, "victorialogs_listen_address"),
    ({"victorialogs_retention_period": "forever"}, "victorialogs_retention_period"),
    ({"victorialogs_extra_flags": {"search.maxQueryDuration": "30s -storageDataPath=/tmp"}}, "victorialogs_extra_flags"),
], ids=["wrong-type", "unknown-choice", "not-host-port", "bad-duration", "flag-injection"])
def test_bad_input_fails_before_any_change(first_host, extra_vars, named):
    host = first_host
    output = assert_refused_unchanged(host, lambda: _state(host), extra_vars, named)
    assert "changed=0" in output, output


# Lifecycle, through the shared common role (the same code path for every
# component): a version change and state=absent, each undone afterwards.
RELEASE = "{{ lgtm_artifact_mirror }}/VictoriaMetrics/VictoriaLogs/releases/download/v" + VERSION
globals().update(lifecycle_tests(
    role="victorialogs", service="victorialogs", version=VERSION, links=["victoria-logs-prod"],
    ready=lambda host: host.run(f"curl -fsS {API}/health").stdout == "OK",
    same_release_vars={"victorialogs_artifact_url": f"{RELEASE}/victoria-logs-linux-amd64-v{VERSION}.tar.gz",
                       "victorialogs_checksum_url": f"{RELEASE}/victoria-logs-linux-amd64-v{VERSION}_checksums.txt"}))
