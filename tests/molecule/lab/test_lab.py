"""The lab host runs a real collector installed from the artifact mirror."""
import json

from lgtm_checks import assert_config_private, assert_runs_as_own_user, unit_hardening_gaps

testinfra_hosts = ["ansible://all"]


def test_binary_reports_the_pinned_version(host):
    out = host.check_output("/usr/local/bin/otelcol-contrib --version")
    assert "0.159.0" in out


def test_binary_lives_in_a_versioned_tree(host):
    link = host.file("/opt/observability-lgtm/otelcol/current")
    assert link.is_symlink
    assert link.linked_to == "/opt/observability-lgtm/otelcol/0.159.0"


def test_service_runs_as_its_own_unprivileged_user(host):
    assert_runs_as_own_user(host, "otelcol")


def test_config_is_readable_only_by_the_service_group(host):
    assert_config_private(host, "/etc/otelcol/config.yaml", "otelcol")


def test_unit_is_hardened(host):
    assert unit_hardening_gaps(host, "otelcol") == {}


def test_health_check_answers_on_its_port(host):
    body = host.check_output("curl -fsS http://127.0.0.1:13133/")
    assert json.loads(body)["status"] == "Server available"


def test_otlp_receiver_listens(host):
    assert host.socket("tcp://0.0.0.0:4317").is_listening
