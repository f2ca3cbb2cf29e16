"""The tempo role leaves a hardened, working Tempo 3 that refuses bad input."""

import pytest
import yaml
from lgtm_checks import (assert_checksum_mismatch_refused, assert_refused_unchanged, component_contract,
                         component_state, poll, role_defaults, send_otlp_span, WRONG_DIGEST)
# The refusal and lifecycle cases' host: a fixture, which pytest finds by its name in this module.
from lgtm_checks import first_host  # noqa: F401 # pylint: disable=unused-import

testinfra_hosts = ["ansible://all"]

DEFAULTS = role_defaults("tempo")
VERSION = DEFAULTS["tempo_version"]
CONFIG = "/etc/tempo/config.yaml"
DATA = "/var/lib/tempo"
API = "http://127.0.0.1:3200"
# Upstream's release tarball (goreleaser) and its checksum file, SHA256SUMS.
TARBALL = f"tempo_{VERSION}_linux_amd64.tar.gz"

# The pinned version, the versioned tree with tempo and tempo-cli, the tempo
# user, private config, the hardened unit confined to /var/lib/tempo, and the
# HTTP, gRPC and OTLP (gRPC, HTTP) listeners on explicit addresses.
globals().update(component_contract(
    service="tempo", version=VERSION, binaries={"tempo": "tempo", "tempo-cli": "tempo-cli"},
    version_command="/usr/local/bin/tempo -version", config_files=[CONFIG], data_dir=DATA,
    ports=[3200, 9095, 4317, 4318]))


def test_tempo_cli_runs(host):
    assert host.run("/usr/local/bin/tempo-cli --help").rc == 0


def test_config_is_single_node_tempo3_and_private(host):
    config = yaml.safe_load(host.file(CONFIG).content_string)
    assert config["target"] == "all"
    assert config["usage_report"]["reporting_enabled"] is False
    assert config["storage"]["trace"]["backend"] == "local"
    assert config["storage"]["trace"]["local"]["path"] == f"{DATA}/blocks"
    # Tempo 3: no ingester and no compactor; the live-store holds recent data and
    # the backend worker compacts and applies retention.
    assert "ingester" not in config
    assert "compactor" not in config
    assert config["live_store"]["ring"]["kvstore"]["store"] == "inmemory"
    assert config["live_store"]["partition_ring"]["kvstore"]["store"] == "inmemory"
    assert config["live_store"]["wal"]["path"] == f"{DATA}/live-store/traces"
    assert config["backend_worker"]["compaction"]["block_retention"] == DEFAULTS["tempo_block_retention"]
    assert config["backend_worker"]["backend_scheduler_addr"] == "127.0.0.1:9095"
    assert config["memberlist"]["bind_addr"] == ["127.0.0.1"]
    assert "metrics_generator" not in config.get("overrides", {}).get("defaults", {})


def test_live_store_writes_in_the_data_directory(host):
    # Left to their defaults, the live-store's paths are under /var/tempo, which
    # the unit may not write: Tempo creates them at start in the data directory.
    for path in (f"{DATA}/live-store/traces", f"{DATA}/live-store/shutdown-marker"):
        directory = host.file(path)
        assert directory.is_directory, path
        assert directory.user == "tempo", path
    assert not host.file("/var/tempo").exists


def test_gossip_is_not_exposed(host):
    listening = set(host.socket.get_listening_sockets())
    assert not {"tcp://0.0.0.0:7946", "tcp://:::7946"} & listening, sorted(listening)


def test_ready(host):
    assert host.check_output(f"curl -fsS {API}/ready") == "ready"


def test_accepts_an_otlp_span_and_returns_it_by_id(host):
    trace_id, span_name = send_otlp_span(host)

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


def test_checksum_mismatch_fails_and_changes_nothing(first_host, tmp_path):
    # Upstream's SHA256SUMS lists every release asset as "<sha256>  <name>".
    host = first_host
    assert_checksum_mismatch_refused(host, lambda: _state(host), tmp_path, {}, "tempo_checksum_url", "SHA256SUMS",
                                     f"{WRONG_DIGEST}  {TARBALL}\n")


@pytest.mark.parametrize("override", [
    # Rejected by the strict YAML parse: an option Tempo does not have.
    {"server": {"no_such_option": True}},
    # Rejected by Tempo's configuration checks (valid YAML and keys in Tempo 3):
    # CheckConfig warns that blocklist_poll_concurrency must be greater than
    # zero, and -config.verify exits non-zero on any warning.
    {"storage": {"trace": {"blocklist_poll_concurrency": 0}}},
], ids=["unknown-key", "failed-check"])
def test_broken_config_fails_validation_and_changes_nothing(first_host, override):
    host = first_host
    assert_refused_unchanged(host, lambda: _state(host), {"tempo_config_overrides": override}, "failed to validate")
    assert host.check_output(f"curl -fsS {API}/ready") == "ready"


@pytest.mark.parametrize("extra_vars,named", [
    ({"tempo_http_listen_port": "web"}, "tempo_http_listen_port"),
    ({"tempo_state": "gone"}, "tempo_state"),
    ({"tempo_grpc_listen_port": 3200}, "tempo_grpc_listen_port"),
    ({"tempo_block_retention": "two weeks"}, "tempo_block_retention"),
], ids=["wrong-type", "unknown-choice", "port-clash", "bad-duration"])
def test_bad_input_fails_before_any_change(first_host, extra_vars, named):
    host = first_host
    output = assert_refused_unchanged(host, lambda: _state(host), extra_vars, named)
    assert "changed=0" in output, output
