"""The lab host runs a real collector installed from the artifact mirror."""
import json

import pytest

testinfra_hosts = ["ansible://all"]

HARDENING = {
    "NoNewPrivileges": "yes",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "PrivateDevices": "yes",
    "RestrictSUIDSGID": "yes",
    "MemoryDenyWriteExecute": "yes",
    "CapabilityBoundingSet": "",
}


def test_binary_reports_the_pinned_version(host):
    out = host.check_output("/usr/local/bin/otelcol-contrib --version")
    assert "0.159.0" in out


def test_binary_lives_in_a_versioned_tree(host):
    link = host.file("/opt/observability-lgtm/otelcol/current")
    assert link.is_symlink
    assert link.linked_to == "/opt/observability-lgtm/otelcol/0.159.0"


def test_service_runs_as_its_own_unprivileged_user(host):
    user = host.user("otelcol")
    assert user.shell == "/usr/sbin/nologin"
    assert user.uid < 1000
    service = host.service("otelcol")
    assert service.is_running
    assert service.is_enabled
    pid = host.check_output("systemctl show -p MainPID --value otelcol")
    assert host.check_output(f"ps -o user= -p {pid}") == "otelcol"


def test_config_is_readable_only_by_the_service_group(host):
    config = host.file("/etc/otelcol/config.yaml")
    assert config.user == "root"
    assert config.group == "otelcol"
    assert config.mode == 0o640


@pytest.mark.parametrize("prop,expected", sorted(HARDENING.items()))
def test_unit_is_hardened(host, prop, expected):
    value = host.check_output(f"systemctl show -p {prop} --value otelcol")
    assert value == expected


def test_health_check_answers_on_its_port(host):
    body = host.check_output("curl -fsS http://127.0.0.1:13133/")
    assert json.loads(body)["status"] == "Server available"


def test_otlp_receiver_listens(host):
    assert host.socket("tcp://0.0.0.0:4317").is_listening
