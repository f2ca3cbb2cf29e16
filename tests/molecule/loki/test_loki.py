"""The loki role leaves a hardened, working Loki that refuses bad input."""
import json
import secrets
import time

import pytest
import yaml
from lgtm_checks import (assert_checksum_mismatch_refused, assert_refused_unchanged, component_contract,
                         component_state, lifecycle_tests, poll, role_defaults, WRONG_DIGEST)
# The refusal and lifecycle cases' host: a fixture, which pytest finds by its name in this module.
from lgtm_checks import first_host  # noqa: F401 # pylint: disable=unused-import

testinfra_hosts = ["ansible://all"]

DEFAULTS = role_defaults("loki")
VERSION = DEFAULTS["loki_version"]
CONFIG = "/etc/loki/config.yaml"
UNIT = "/etc/systemd/system/loki.service"
API = "http://127.0.0.1:3100"
RELEASE_PATH = f"/grafana/loki/releases/download/v{VERSION}"

# The pinned version, the versioned tree, the loki user, private config, the
# hardened unit confined to /var/lib/loki, and HTTP on its explicit address
# (gRPC stays on loopback: test_grpc_is_on_loopback_only).
globals().update(component_contract(
    service="loki", version=VERSION, binaries={"loki-linux-amd64": "loki"}, version_command="/usr/local/bin/loki -version",
    config_files=[CONFIG], data_dir="/var/lib/loki", ports=[3100]))


def test_binaries_report_the_pinned_version(host):
    # Stricter than the shared check: Loki's own version line.
    assert f"loki, version {VERSION} " in host.check_output("/usr/local/bin/loki -version")


def test_unit_file_is_roots(host):
    unit = host.file(UNIT)
    assert (unit.user, unit.group, unit.mode) == ("root", "root", 0o644)
    assert host.check_output("systemctl show -p Group --value loki") == "loki"


def test_config_is_single_node_tsdb_and_private(host):
    config = yaml.safe_load(host.file(CONFIG).content_string)
    assert config["target"] == "all"
    assert config["auth_enabled"] is False
    assert config["common"]["path_prefix"] == "/var/lib/loki"
    assert config["common"]["replication_factor"] == 1
    assert config["common"]["ring"]["kvstore"]["store"] == "inmemory"
    assert config["common"]["ring"]["instance_addr"] == "127.0.0.1"
    (period,) = config["schema_config"]["configs"]
    assert (period["store"], period["schema"], period["object_store"]) == ("tsdb", "v13", "filesystem")
    assert config["limits_config"]["allow_structured_metadata"] is True
    assert config["limits_config"]["volume_enabled"] is True
    assert config["limits_config"]["retention_period"] == DEFAULTS["loki_retention_period"]
    assert config["analytics"]["reporting_enabled"] is False
    assert config["compactor"]["working_directory"] == "/var/lib/loki/compactor"
    assert config["compactor"]["retention_enabled"] is True


def test_data_stays_in_the_data_directory(host):
    for sub in ("chunks", "compactor", "wal"):
        assert host.file(f"/var/lib/loki/{sub}").is_directory


def test_grpc_is_on_loopback_only(host):
    listening = set(host.socket.get_listening_sockets())
    assert "tcp://127.0.0.1:9096" in listening, sorted(listening)
    assert not {"tcp://0.0.0.0:9096", "tcp://:::9096"} & listening, sorted(listening)


def test_ready(host):
    assert host.check_output(f"curl -fsS {API}/ready") == "ready"


def _query_until_found(host, query, start_ns, needle):
    def probe():
        result = host.run(
            "curl -fsS -G %s --data-urlencode %s --data-urlencode %s --data-urlencode limit=100",
            f"{API}/loki/api/v1/query_range", f"query={query}", f"start={start_ns}")
        return result.stdout if result.rc == 0 and needle in result.stdout else ""
    return poll(probe)


def test_push_api_line_is_returned_by_query_range(host):
    job = f"molecule-{secrets.token_hex(4)}"
    line = f"hello from push {secrets.token_hex(8)}"
    now = time.time_ns()
    payload = {"streams": [{"stream": {"job": job}, "values": [[str(now), line]]}]}
    host.check_output("curl -fsS -H %s --data-binary %s %s",
                      "Content-Type: application/json", json.dumps(payload), f"{API}/loki/api/v1/push")
    body = _query_until_found(host, f'{{job="{job}"}}', now - 60_000_000_000, line)
    assert line in body, f"pushed line not returned within 30 s for job {job}"
    assert json.loads(body)["status"] == "success"


def test_native_otlp_log_is_returned_by_query_range(host):
    service = f"molecule-otlp-{secrets.token_hex(4)}"
    line = f"hello from otlp {secrets.token_hex(8)}"
    now = time.time_ns()
    payload = {"resourceLogs": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]},
        "scopeLogs": [{"scope": {"name": "molecule"}, "logRecords": [{
            "timeUnixNano": str(now), "severityText": "INFO",
            "body": {"stringValue": line},
            "attributes": [{"key": "molecule.run", "value": {"stringValue": "yes"}}]}]}]}]}
    host.check_output("curl -fsS -H %s --data-binary %s %s",
                      "Content-Type: application/json", json.dumps(payload), f"{API}/otlp/v1/logs")
    # service.name becomes the service_name index label; attributes become structured metadata.
    body = _query_until_found(host, f'{{service_name="{service}"}}', now - 60_000_000_000, line)
    assert line in body, f"OTLP log not returned within 30 s for service {service}"
    assert "molecule_run" in body


# Negative cases: apply the role again with bad input; the play must fail and
# leave the host exactly as it was.

def _state(host):
    return component_state(host, "loki", [CONFIG], "/usr/local/bin/loki")


def test_checksum_mismatch_fails_and_changes_nothing(first_host, tmp_path):
    # A "new version" whose artifact does not match its published checksum: the
    # play must stop at the download, before the new tree and links exist.
    # Upstream's SHA256SUMS lists every release asset as "<sha256>  <name>".
    host = first_host
    assert_checksum_mismatch_refused(host, lambda: _state(host), tmp_path, {
        "loki_version": f"{VERSION}-1",
        "loki_artifact_url": "{{ lgtm_artifact_mirror }}" + f"{RELEASE_PATH}/loki-linux-amd64.zip",
        "lgtm_artifact_cache_dir": str(tmp_path / "cache"),
    }, "loki_checksum_url", "SHA256SUMS", f"{WRONG_DIGEST}  loki-linux-amd64.zip\n")


@pytest.mark.parametrize("override", [
    # Rejected by the strict YAML parse: an option Loki does not have.
    {"server": {"no_such_option": True}},
    # Rejected by Loki's configuration checks: OTLP and structured metadata need schema v13.
    {"schema_config": {"configs": [{"from": "2024-01-01", "store": "tsdb", "object_store": "filesystem",
                                    "schema": "v12", "index": {"prefix": "index_", "period": "24h"}}]}},
], ids=["unknown-key", "failed-check"])
def test_broken_config_fails_validation_and_changes_nothing(first_host, override):
    host = first_host
    assert_refused_unchanged(host, lambda: _state(host), {"loki_config_overrides": override}, "failed to validate")
    assert host.check_output(f"curl -fsS {API}/ready") == "ready"


@pytest.mark.parametrize("extra_vars,named", [
    ({"loki_http_listen_port": "web"}, "loki_http_listen_port"),
    ({"loki_state": "gone"}, "loki_state"),
    ({"loki_log_level": "chatty"}, "loki_log_level"),
    ({"loki_grpc_listen_port": 3100}, "loki_grpc_listen_port"),
], ids=["wrong-type", "unknown-choice", "unknown-log-level", "port-clash"])
def test_bad_input_fails_before_any_change(first_host, extra_vars, named):
    host = first_host
    output = assert_refused_unchanged(host, lambda: _state(host), extra_vars, named)
    assert "changed=0" in output, output


# Lifecycle, through the shared common role (the same code path for every
# component): a version change and state=absent, each undone afterwards.
globals().update(lifecycle_tests(
    role="loki", service="loki", version=VERSION, links=["loki"],
    ready=lambda host: host.run(f"curl -fsS {API}/ready").stdout == "ready",
    same_release_vars={"loki_artifact_url": "{{ lgtm_artifact_mirror }}" + f"{RELEASE_PATH}/loki-linux-amd64.zip",
                       "loki_checksum_url": "{{ lgtm_artifact_mirror }}" + f"{RELEASE_PATH}/SHA256SUMS"}))
