"""The mimir role leaves a hardened, working Mimir 3 that refuses bad input."""
import json
import pathlib
import secrets
import time

import pytest
import yaml
from lgtm_checks import (apply_converge, assert_checksum_mismatch_refused, assert_refused_unchanged,
                         component_contract, component_state, controller_address, MIRROR_DIR, poll, serve_directory,
                         WRONG_DIGEST)
# The refusal and lifecycle cases' host: a fixture, which pytest finds by its name in this module.
from lgtm_checks import first_host  # noqa: F401 # pylint: disable=unused-import

testinfra_hosts = ["ansible://all"]

ROLE = pathlib.Path(__file__).resolve().parents[3] / "roles" / "mimir"
DEFAULTS = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
VERSION = DEFAULTS["mimir_version"]
CONFIG = "/etc/mimir/config.yaml"
API = "http://127.0.0.1:9009"
# Upstream ships the raw binary with one checksum file beside it, holding the
# sha256 alone (its Makefile's dist target: sha256sum | cut -d ' ' -f 1).
ARTIFACT = "mimir-linux-amd64"
CHECKSUM = f"{ARTIFACT}-sha-256"

# The pinned version, the versioned tree, the mimir user, private config, the
# hardened unit confined to /var/lib/mimir, HTTP and gRPC on explicit addresses.
globals().update(component_contract(
    service="mimir", version=VERSION, binaries={"mimir": "mimir"}, version_command="/usr/local/bin/mimir -version",
    config_files=[CONFIG], data_dir="/var/lib/mimir", ports=[9009, 9097]))


def test_binaries_report_the_pinned_version(host):
    # Stricter than the shared check: Mimir's own version line.
    assert f"Mimir, version {VERSION} " in host.check_output("/usr/local/bin/mimir -version")


def test_config_is_single_node_classic_and_private(host):
    config = yaml.safe_load(host.file(CONFIG).content_string)
    assert config["target"] == "all"
    assert config["multitenancy_enabled"] is False
    assert config["ingest_storage"]["enabled"] is False
    assert config["ingester"]["ring"]["kvstore"]["store"] == "inmemory"
    assert config["ingester"]["ring"]["replication_factor"] == 1
    assert config["blocks_storage"]["backend"] == "filesystem"
    assert config["blocks_storage"]["filesystem"]["dir"] == "/var/lib/mimir/blocks"
    assert config["limits"]["max_global_exemplars_per_user"] > 0
    assert config["limits"]["compactor_blocks_retention_period"] == DEFAULTS["mimir_blocks_retention_period"]
    assert config["usage_stats"]["enabled"] is False
    assert config["limits"]["otel_metric_suffixes_enabled"] is True
    assert config["memberlist"]["bind_addr"] == ["127.0.0.1"]


def test_gossip_is_not_exposed(host):
    listening = set(host.socket.get_listening_sockets())
    assert not {"tcp://0.0.0.0:7946", "tcp://:::7946"} & listening, sorted(listening)


def test_ready(host):
    assert host.check_output(f"curl -fsS {API}/ready") == "ready"


def _query(host, path, **params):
    args = " ".join(f"--data-urlencode {k}=%s" for k in params)
    result = host.run(f"curl -fsS -G {args} %s", *params.values(), f"{API}{path}")
    return json.loads(result.stdout) if result.rc == 0 else {}


def test_accepts_an_otlp_sample_and_its_exemplar_and_returns_them(host):
    name = f"lgtm_molecule_{secrets.token_hex(4)}"
    trace_id = secrets.token_hex(16)
    now = time.time_ns()
    point = {"asDouble": 42.5, "startTimeUnixNano": str(now - 60_000_000_000),
             "timeUnixNano": str(now),
             "exemplars": [{"asDouble": 42.5, "timeUnixNano": str(now),
                            "traceId": trace_id, "spanId": secrets.token_hex(8)}]}
    payload = {"resourceMetrics": [{
        "resource": {"attributes": [
            {"key": "service.name", "value": {"stringValue": "lgtm-molecule"}}]},
        "scopeMetrics": [{"scope": {"name": "molecule"}, "metrics": [{
            "name": name,
            "sum": {"aggregationTemporality": 2, "isMonotonic": True, "dataPoints": [point]}}]}]}]}
    host.check_output("curl -fsS -H %s --data-binary %s %s",
                      "Content-Type: application/json", json.dumps(payload), f"{API}/otlp/v1/metrics")
    selector = f'{{__name__=~"{name}.*"}}'
    samples = poll(lambda: _query(host, "/prometheus/api/v1/query", query=selector).get("data", {}).get("result", []))
    assert samples, f"{name} not returned within 30 s"
    assert samples[0]["value"][1] == "42.5"
    assert samples[0]["metric"]["job"] == "lgtm-molecule"
    exemplars = _query(host, "/prometheus/api/v1/query_exemplars", query=selector,
                       start=str(int(now / 1e9) - 300), end=str(int(now / 1e9) + 300))
    found = [e for series in exemplars.get("data", []) for e in series["exemplars"]]
    assert any(e["labels"].get("trace_id") == trace_id for e in found), exemplars


# Negative cases: apply the role again with bad input; the play must fail and
# leave the host exactly as it was.

def _state(host):
    return component_state(host, "mimir", [CONFIG], "/usr/local/bin/mimir")


def test_checksum_mismatch_fails_and_changes_nothing(first_host, tmp_path):
    # Upstream's mimir-linux-amd64-sha-256 holds the digest alone.
    host = first_host
    assert_checksum_mismatch_refused(host, lambda: _state(host), tmp_path, {}, "mimir_checksum_url", CHECKSUM,
                                     f"{WRONG_DIGEST}\n")


def test_download_on_the_host_is_verified_there(first_host, tmp_path):
    # lgtm_artifact_download_on_host: each host fetches the artifact from the
    # mirror itself and checks it against upstream's checksum file there.
    host = first_host
    address = controller_address(host)
    cached = f"/var/cache/observability-lgtm/mimir/{VERSION}/{ARTIFACT}"
    # A wrong checksum first: refused on the host, nothing kept or changed.
    (tmp_path / CHECKSUM).write_text(f"{'0' * 64}\n")
    with serve_directory(MIRROR_DIR, address) as mirror, serve_directory(tmp_path, address) as wrong:
        assert_refused_unchanged(host, lambda: _state(host), {
            "lgtm_artifact_download_on_host": True, "lgtm_artifact_mirror": mirror,
            "mimir_checksum_url": f"{wrong}/{CHECKSUM}"}, "did not match")
    assert not host.file(cached).exists
    # The right one: downloaded and kept on the host; the installed tree and the
    # running service are the same release, so nothing else changes.
    before = _state(host)
    with serve_directory(MIRROR_DIR, address) as mirror:
        rc, output = apply_converge(host, {"lgtm_artifact_download_on_host": True, "lgtm_artifact_mirror": mirror})
    assert rc == 0, output
    assert host.file(cached).sha256sum == host.file("/usr/local/bin/mimir").sha256sum
    assert _state(host) == before


@pytest.mark.parametrize("override", [
    # Rejected by the strict YAML load: an option Mimir does not have.
    {"server": {"no_such_option": True}},
    # Rejected by Mimir's validation (valid YAML and keys in Mimir 3): the
    # bucket config's Validate refuses an unsupported storage backend.
    {"blocks_storage": {"backend": "no-such-backend"}},
], ids=["unknown-key", "failed-check"])
def test_broken_config_fails_validation_and_changes_nothing(first_host, override):
    host = first_host
    assert_refused_unchanged(host, lambda: _state(host), {"mimir_config_overrides": override}, "failed to validate")
    assert host.check_output(f"curl -fsS {API}/ready") == "ready"


@pytest.mark.parametrize("extra_vars,named", [
    ({"mimir_http_listen_port": "web"}, "mimir_http_listen_port"),
    ({"mimir_state": "gone"}, "mimir_state"),
    ({"mimir_grpc_listen_port": 9009}, "mimir_grpc_listen_port"),
    ({"mimir_blocks_retention_period": "forever"}, "mimir_blocks_retention_period"),
], ids=["wrong-type", "unknown-choice", "port-clash", "bad-duration"])
def test_bad_input_fails_before_any_change(first_host, extra_vars, named):
    host = first_host
    output = assert_refused_unchanged(host, lambda: _state(host), extra_vars, named)
    assert "changed=0" in output, output
