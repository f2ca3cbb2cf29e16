"""The otel_collector role leaves a hardened, working collector that refuses bad input."""
import base64
import json
import pathlib
import secrets
import time

import pytest
import yaml
from lgtm_checks import (apply_converge, assert_checksum_mismatch_refused, assert_refused_unchanged, component_state,
                         poll, unit_hardening_gaps, WRONG_DIGEST)
# The refusal and lifecycle cases' host: a fixture, which pytest finds by its name in this module.
from lgtm_checks import first_host  # noqa: F401 # pylint: disable=unused-import

testinfra_hosts = ["ansible://all"]

ROLE = pathlib.Path(__file__).resolve().parents[3] / "roles" / "otel_collector"
DEFAULTS = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
VERSION = DEFAULTS["otel_collector_version"]
NAME = "otelcol"
CONFIG = "/etc/otelcol/config.yaml"
UNIT = f"/etc/systemd/system/{NAME}.service"
TARBALL = f"otelcol-contrib_{VERSION}_linux_amd64.tar.gz"
RELEASE_PATH = f"/open-telemetry/opentelemetry-collector-releases/releases/download/v{VERSION}"

# Beyond the hardening every unit of the common role has (lgtm_checks.UNIT_HARDENING):
ROLE_UNIT = {
    "User": "otelcol",
    "Group": "otelcol",
    "ReadWritePaths": "/var/lib/otelcol",
}


def test_binary_reports_the_pinned_version(host):
    assert host.check_output("/usr/local/bin/otelcol-contrib --version") == f"otelcol-contrib version {VERSION}"


def test_binary_lives_in_a_versioned_tree(host):
    current = host.file(f"/opt/observability-lgtm/{NAME}/current")
    assert current.linked_to == f"/opt/observability-lgtm/{NAME}/{VERSION}"
    link = host.file("/usr/local/bin/otelcol-contrib")
    assert link.is_symlink
    assert host.check_output("readlink /usr/local/bin/otelcol-contrib") == \
        f"/opt/observability-lgtm/{NAME}/current/otelcol-contrib"
    binary = host.file(f"/opt/observability-lgtm/{NAME}/{VERSION}/otelcol-contrib")
    assert (binary.user, binary.group, binary.mode) == ("root", "root", 0o755)


def test_service_runs_as_its_own_system_user(host):
    user = host.user(NAME)
    assert user.shell == "/usr/sbin/nologin"
    assert user.uid < 1000
    assert user.home == "/var/lib/otelcol"
    service = host.service(NAME)
    assert service.is_running
    assert service.is_enabled
    pid = host.check_output(f"systemctl show -p MainPID --value {NAME}")
    assert host.check_output(f"ps -o user= -p {pid}") == NAME


def test_config_and_data_modes(host):
    config = host.file(CONFIG)
    assert (config.user, config.group, config.mode) == ("root", NAME, 0o640)
    directory = host.file("/etc/otelcol")
    assert (directory.user, directory.group, directory.mode) == ("root", NAME, 0o750)
    data = host.file("/var/lib/otelcol")
    assert (data.user, data.group, data.mode) == (NAME, NAME, 0o750)
    unit = host.file(UNIT)
    assert (unit.user, unit.group, unit.mode) == ("root", "root", 0o644)


def test_config_is_rendered_from_the_spec(host):
    config = yaml.safe_load(host.file(CONFIG).content_string)
    assert config["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"] == "0.0.0.0:4317"
    assert config["receivers"]["otlp"]["protocols"]["http"]["endpoint"] == "0.0.0.0:4318"
    assert config["extensions"]["file_storage/queue"]["directory"] == "/var/lib/otelcol/queue"
    for pipeline in ("traces", "metrics", "logs"):
        assert config["service"]["pipelines"][pipeline]["processors"][0] == "memory_limiter"
        assert config["service"]["pipelines"][pipeline]["exporters"] == ["debug/debug"]


def test_gomemlimit_matches_the_memory_limiter(host):
    config = yaml.safe_load(host.file(CONFIG).content_string)
    limit_mib = config["processors"]["memory_limiter"]["limit_mib"]
    environment = host.check_output(f"systemctl show -p Environment --value {NAME}")
    assert f"GOMEMLIMIT={int(limit_mib * 0.8)}MiB" in environment.split()


def test_unit_is_hardened(host):
    assert unit_hardening_gaps(host, "otelcol") == {}


@pytest.mark.parametrize("prop,expected", sorted(ROLE_UNIT.items()))
def test_unit_runs_as_its_user_on_its_data(host, prop, expected):
    assert host.check_output(f"systemctl show -p {prop} --value {NAME}") == expected


@pytest.mark.parametrize("port", [4317, 4318, 13133, 8888])
def test_listens_on_explicit_addresses(host, port):
    assert host.socket(f"tcp://0.0.0.0:{port}").is_listening


def test_health_check_is_ok(host):
    body = json.loads(host.check_output("curl -fsS http://127.0.0.1:13133/"))
    assert body["status"] == "Server available"


def test_own_metrics_are_served(host):
    metrics = host.check_output("curl -fsS http://127.0.0.1:8888/metrics")
    assert "otelcol_process_uptime" in metrics
    assert f'service_version="{VERSION}"' in metrics


def _metric_sum(text, name):
    total = 0.0
    for line in text.splitlines():
        metric = line.split("{", 1)[0].split(" ", 1)[0]
        if metric in (name, f"{name}_total"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def post_log_record(host, marker):
    """One OTLP/HTTP log record whose body is `marker`, to the collector's port on the host."""
    payload = {"resourceLogs": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "lgtm-molecule"}}]},
        "scopeLogs": [{"scope": {"name": "molecule"}, "logRecords": [{
            "timeUnixNano": str(time.time_ns()), "severityText": "INFO",
            "body": {"stringValue": marker}}]}]}]}
    host.check_output("curl -fsS -H %s --data-binary %s http://127.0.0.1:4318/v1/logs",
                      "Content-Type: application/json", json.dumps(payload))


def test_accepts_an_otlp_log_record_and_exports_it(host):
    marker = f"molecule-{secrets.token_hex(6)}"
    post_log_record(host, marker)

    def probe():
        metrics = host.check_output("curl -fsS http://127.0.0.1:8888/metrics")
        counts = (_metric_sum(metrics, "otelcol_receiver_accepted_log_records"),
                  _metric_sum(metrics, "otelcol_exporter_sent_log_records"))
        return counts if min(counts) >= 1 else None
    assert poll(probe), "the log record was not received and exported within 30 s"


# Negative cases: apply the role again with bad input; the play must fail and
# leave the host exactly as it was.

# A collector that queues on disk: one OTLP backend (nothing listens there; the play stops before
# the collector would send).
DISK_QUEUE_SPEC = {"receivers": {"otlp": {}}, "backends": {"gateway": {"type": "otlp", "endpoint": "127.0.0.1:14317"}},
                   "pipelines": {signal: {"exporters": ["gateway"]} for signal in ("traces", "metrics", "logs")}}
DISK_QUEUE_64_TIB = {"directory": "/var/lib/otelcol/queue", "max_mib": 64 * 2**20}


def _state(host):
    return component_state(host, "otelcol", [CONFIG], "/usr/local/bin/otelcol-contrib")


def test_checksum_mismatch_fails_and_changes_nothing(first_host, tmp_path):
    # A "new version" whose artifact does not match its published checksum: the
    # play must stop at the download, before the new tree and links exist.
    host = first_host
    assert_checksum_mismatch_refused(host, lambda: _state(host), tmp_path, {
        "otel_collector_version": "0.159.1",
        "otel_collector_artifact_url": "{{ lgtm_artifact_mirror }}" + f"{RELEASE_PATH}/{TARBALL}",
        "lgtm_artifact_cache_dir": str(tmp_path / "cache"),
    }, "otel_collector_checksum_url", "checksums.txt", f"{WRONG_DIGEST}  {TARBALL}\n")


@pytest.mark.parametrize("override", [
    # An option the OTLP receiver does not have.
    {"receivers": {"otlp": {"protocols": {"grpc": {"no_such_option": True}}}}},
    # A known option with a value the debug exporter rejects.
    {"exporters": {"debug/debug": {"verbosity": "loud"}}},
], ids=["unknown-key", "bad-value"])
def test_broken_config_fails_validation_and_changes_nothing(first_host, override):
    host = first_host
    assert_refused_unchanged(host, lambda: _state(host), {"otel_collector_config_overrides": override}, "failed to validate")
    assert json.loads(host.check_output("curl -fsS http://127.0.0.1:13133/"))["status"] == "Server available"


def test_check_mode_predicts_the_disk_queue_reservation_and_writes_nothing(first_host):
    """A disk queue in a folder the host does not have yet (issue 18): check mode predicts the room
    reserved for each queue file, one per signal of the one exporter, and creates no folder or file."""
    host = first_host
    queue_dir = f"/var/lib/otelcol/queue-check-{secrets.token_hex(3)}"
    before = _state(host)
    rc, output = apply_converge(
        host, {"otel_collector_spec": DISK_QUEUE_SPEC | {"persistent_queue": {"directory": queue_dir, "max_mib": 12}}},
        check=True)
    assert rc == 0, output
    for signal in ("traces", "metrics", "logs"):
        predicted = f"changed: [{host.backend.host}] => (item={queue_dir}/exporter_otlp_grpc_gateway_{signal})"
        assert predicted in output, output
    assert not host.file(queue_dir).exists
    assert _state(host) == before


@pytest.mark.parametrize("extra_vars,named", [
    ({"otel_collector_memory_limit_mib": "lots"}, "otel_collector_memory_limit_mib"),
    ({"otel_collector_state": "gone"}, "otel_collector_state"),
    ({"otel_collector_config_overrides": {"pipelines": {}}}, "otel_collector_config_overrides"),
    ({"otel_collector_spec": {"pipelines": {"traces": {"exporters": ["nowhere"]}}}}, "spec.pipelines.traces"),
    # A disk queue bounded to 64 TiB: it may take twice that, more than the host's filesystem has.
    ({"otel_collector_spec": DISK_QUEUE_SPEC | {"persistent_queue": DISK_QUEUE_64_TIB}},
     "otel_collector_spec.persistent_queue.max_mib"),
], ids=["wrong-type", "unknown-choice", "bad-override-section", "bad-spec", "disk-queue-larger-than-the-disk"])
def test_bad_input_fails_before_any_change(first_host, extra_vars, named):
    host = first_host
    output = assert_refused_unchanged(host, lambda: _state(host), extra_vars, named)
    assert "changed=0" in output, output


# The collector names a disk queue's file after the exporter's type as the configuration writes it,
# and `otlp` is written `otlp_grpc` from 0.144.0 on (the v0.159.0 binary, configured with the old
# alias `otlp/x`, writes exporter_otlp_x_traces; with `otlp_grpc/x`, exporter_otlp_grpc_x_traces).
RECEIVER_CONFIG = """\
receivers:
  otlp: {protocols: {grpc: {endpoint: "127.0.0.1:14317"}}}
exporters:
  debug: {verbosity: detailed}
service:
  telemetry: {metrics: {level: none}}
  pipelines:
    logs: {receivers: [otlp], exporters: [debug]}
"""


def test_an_upgrade_across_a_type_rename_keeps_what_the_queue_held(first_host):
    """Last in this file: it converges another spec and puts the scenario's back at the end.
    A log record waits in the disk queue (nothing listens at the backend), the collector stops and
    its queue file takes the name a collector before 0.144.0 gave it (`otlp` in the name): what an
    upgrade across the rename finds. The next run moves it back to the name this version opens
    before the collector starts, and the record reaches the backend once one listens."""
    host = first_host
    queue_dir = f"/var/lib/otelcol/queue-rename-{secrets.token_hex(3)}"
    spec = {"otel_collector_spec": DISK_QUEUE_SPEC | {"persistent_queue": {"directory": queue_dir, "max_mib": 12}}}
    current, earlier = f"{queue_dir}/exporter_otlp_grpc_gateway_logs", f"{queue_dir}/exporter_otlp_gateway_logs"
    receiver = f"lgtm-rename-receiver-{secrets.token_hex(3)}"
    try:
        rc, output = apply_converge(host, spec)
        assert rc == 0, output
        marker = f"queued-{secrets.token_hex(6)}"
        post_log_record(host, marker)
        time.sleep(2)   # past the exporter's 200 ms batch: the record is the queue's, its export failing
        host.check_output("systemctl stop otelcol")
        host.check_output(f"mv {current} {earlier}")
        encoded = base64.b64encode(RECEIVER_CONFIG.encode()).decode()
        host.check_output(f"echo {encoded} | base64 -d > /tmp/{receiver}.yaml")
        host.check_output(f"systemd-run --unit {receiver} /usr/local/bin/otelcol-contrib --config /tmp/{receiver}.yaml")
        rc, output = apply_converge(host, spec)
        assert rc == 0, output
        assert f"changed: [{host.backend.host}] => (item={earlier} -> {current})" in output, output
        assert not host.file(earlier).exists and host.file(current).user == "otelcol"
        assert poll(lambda: marker in host.check_output(f"journalctl -u {receiver} --no-pager")), \
            f"the queued record {marker} did not reach the backend within 30 s of the restart"
    finally:
        host.run(f"systemctl stop {receiver}")
        rc, output = apply_converge(host, {})
        assert rc == 0, output
        host.run(f"rm -rf {queue_dir} /tmp/{receiver}.yaml")
