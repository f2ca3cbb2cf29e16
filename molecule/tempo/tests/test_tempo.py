"""The tempo role leaves a hardened, working Tempo that refuses bad input."""
import json
import pathlib
import secrets
import time

import pytest
import yaml
from lgtm_checks import (assert_refused_unchanged, assert_config_private, assert_runs_as_own_user,
                         component_state, poll, serve_directory, unit_hardening_gaps)

testinfra_hosts = ["ansible://all"]

ROLE = pathlib.Path(__file__).resolve().parents[3] / "roles" / "tempo"
DEFAULTS = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
VERSION = DEFAULTS["tempo_version"]
CONFIG = "/etc/tempo/config.yaml"
API = "http://127.0.0.1:3200"

# On top of the hardening every unit of the collection has (lgtm_checks).
UNIT_SPECIFIC = {
    "User": "tempo",
    "ReadWritePaths": "/var/lib/tempo",
    "ProtectHome": "yes",
}


def test_binaries_report_the_pinned_version(host):
    assert VERSION in host.check_output("/usr/local/bin/tempo -version")
    assert host.run("/usr/local/bin/tempo-cli --help").rc == 0


def test_binaries_live_in_a_versioned_tree(host):
    current = host.file("/opt/observability-lgtm/tempo/current")
    assert current.linked_to == f"/opt/observability-lgtm/tempo/{VERSION}"
    for name in ("tempo", "tempo-cli"):
        assert host.file(f"/usr/local/bin/{name}").is_symlink
        assert host.check_output(f"readlink /usr/local/bin/{name}") == f"/opt/observability-lgtm/tempo/current/{name}"
        binary = host.file(f"/opt/observability-lgtm/tempo/{VERSION}/{name}")
        assert binary.user == "root"
        assert binary.mode == 0o755


def test_service_runs_as_its_own_system_user(host):
    assert_runs_as_own_user(host, "tempo")
    assert host.user("tempo").home == "/var/lib/tempo"


def test_config_and_data_modes(host):
    assert_config_private(host, CONFIG, "tempo")
    directory = host.file("/etc/tempo")
    assert (directory.user, directory.group, directory.mode) == ("root", "tempo", 0o750)
    data = host.file("/var/lib/tempo")
    assert (data.user, data.group, data.mode) == ("tempo", "tempo", 0o750)


def test_config_is_single_node_and_private(host):
    config = yaml.safe_load(host.file(CONFIG).content_string)
    assert config["target"] == "all"
    assert config["usage_report"]["reporting_enabled"] is False
    assert config["storage"]["trace"]["backend"] == "local"
    assert config["ingester"]["lifecycler"]["ring"]["kvstore"]["store"] == "inmemory"
    assert "metrics_generator" not in config.get("overrides", {}).get("defaults", {})


def test_unit_is_hardened(host):
    assert unit_hardening_gaps(host, "tempo") == {}


@pytest.mark.parametrize("prop,expected", sorted(UNIT_SPECIFIC.items()))
def test_unit_confines_the_service(host, prop, expected):
    assert host.check_output(f"systemctl show -p {prop} --value tempo") == expected


@pytest.mark.parametrize("port", [3200, 9095, 4317, 4318])
def test_listens_on_explicit_addresses(host, port):
    assert host.socket(f"tcp://{port}").is_listening


def test_ready(host):
    assert host.check_output(f"curl -fsS {API}/ready") == "ready"


def test_accepts_an_otlp_span_and_returns_it_by_id(host):
    trace_id = secrets.token_hex(16)
    span_name = f"molecule-{secrets.token_hex(4)}"
    now = time.time_ns()
    payload = {"resourceSpans": [{
        "resource": {"attributes": [
            {"key": "service.name", "value": {"stringValue": "lgtm-molecule"}}]},
        "scopeSpans": [{"scope": {"name": "molecule"}, "spans": [{
            "traceId": trace_id, "spanId": secrets.token_hex(8), "name": span_name, "kind": 2,
            "startTimeUnixNano": str(now - 5_000_000), "endTimeUnixNano": str(now)}]}]}]}
    host.check_output("curl -fsS -H %s --data-binary %s http://127.0.0.1:4318/v1/traces",
                      "Content-Type: application/json", json.dumps(payload))

    def probe():
        result = host.run("curl -fsS %s", f"{API}/api/v2/traces/{trace_id}")
        return result.stdout if result.rc == 0 and span_name in result.stdout else ""
    body = poll(probe)
    assert span_name in body, f"trace {trace_id} not returned within 30 s"
    assert "lgtm-molecule" in body


# Negative cases: apply the role again with bad input; the play must fail and
# leave the host exactly as it was.

def _state(host):
    return component_state(host, "tempo", [CONFIG], "/usr/local/bin/tempo")


def test_checksum_mismatch_fails_and_changes_nothing(host, tmp_path):
    (tmp_path / "SHA256SUMS").write_text(f"{'0' * 64}  tempo_{VERSION}_linux_amd64.tar.gz\n")
    with serve_directory(tmp_path) as url:
        assert_refused_unchanged(host, lambda: _state(host), {"tempo_checksum_url": f"{url}/SHA256SUMS"}, "did not match")


@pytest.mark.parametrize("override", [
    # Rejected by the strict YAML parse: an option Tempo does not have.
    {"server": {"no_such_option": True}},
    # Rejected by Tempo's configuration checks (valid YAML and keys).
    {"storage": {"trace": {"blocklist_poll_concurrency": 0}}},
], ids=["unknown-key", "failed-check"])
def test_broken_config_fails_validation_and_changes_nothing(host, override):
    assert_refused_unchanged(host, lambda: _state(host), {"tempo_config_overrides": override}, "failed to validate")
    assert host.check_output(f"curl -fsS {API}/ready") == "ready"


@pytest.mark.parametrize("extra_vars,named", [
    ({"tempo_http_listen_port": "web"}, "tempo_http_listen_port"),
    ({"tempo_state": "gone"}, "tempo_state"),
    ({"tempo_grpc_listen_port": 3200}, "tempo_grpc_listen_port"),
    ({"tempo_block_retention": "two weeks"}, "tempo_block_retention"),
], ids=["wrong-type", "unknown-choice", "port-clash", "bad-duration"])
def test_bad_input_fails_before_any_change(host, extra_vars, named):
    output = assert_refused_unchanged(host, lambda: _state(host), extra_vars, named)
    assert "changed=0" in output, output
