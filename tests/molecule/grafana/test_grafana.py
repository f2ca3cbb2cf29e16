"""The grafana role leaves a hardened, working Grafana 13 that refuses bad input."""
import json
import os
import pathlib
import secrets
import time

import pytest
import yaml
from lgtm_checks import (apply_converge, assert_checksum_mismatch_refused, assert_refused_unchanged,
                         component_contract, component_state, WRONG_DIGEST)
# The refusal and lifecycle cases' host: a fixture, which pytest finds by its name in this module.
from lgtm_checks import first_host  # noqa: F401 # pylint: disable=unused-import

testinfra_hosts = ["ansible://all"]

ROLE = pathlib.Path(__file__).resolve().parents[3] / "roles" / "grafana"
DEFAULTS = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
VERSION = DEFAULTS["grafana_version"]
# Since 12.x upstream's file names carry the build that produced the release.
BUILD_ID = DEFAULTS["grafana_build_id"]
SCENARIO = pathlib.Path(os.environ.get("MOLECULE_SCENARIO_DIRECTORY", pathlib.Path(__file__).resolve().parents[3] / "molecule" / "grafana"))
# The password converge.yml hands to the role (from the inventory, as a vault would).
PASSWORD = yaml.safe_load((SCENARIO / "molecule.yml").read_text()
                          )["provisioner"]["inventory"]["group_vars"]["all"]["lab_grafana_admin_password"]
CONVERGE_VARS = yaml.safe_load((SCENARIO / "converge.yml").read_text())[0]["tasks"][0]["vars"]
DATASOURCES = CONVERGE_VARS["grafana_datasources"]

INI = "/etc/grafana/grafana.ini"
DATASOURCES_FILE = "/etc/grafana/provisioning/datasources/lgtm.yml"
PROVIDERS_FILE = "/etc/grafana/provisioning/dashboards/lgtm.yml"
DASHBOARD_FILE = "/etc/grafana/dashboards/LGTM/lgtm-smoke.json"
CHECK = "/usr/local/libexec/lgtm-grafana-check"
SECRET_KEY_FILE = "/var/lib/grafana/secret_key"
# Grafana's built-in security.secret_key (conf/defaults.ini): public, never to be used.
UPSTREAM_DEFAULT_SECRET_KEY = "SW2YcwTIb9zpOOhoPsMm"
UNIT = "/etc/systemd/system/grafana.service"
API = "http://127.0.0.1:3000"
TREE = f"/opt/observability-lgtm/grafana/{VERSION}"
# Upstream's tarball and, beside it, its checksum file <tarball>.sha256 (the digest alone).
RELEASE_PATH = f"/grafana/release/{VERSION}"
TARBALL = f"grafana_{VERSION}_{BUILD_ID}_linux_amd64.tar.gz"

# The pinned version, the versioned tree, the grafana user, private config and
# provisioning files, the hardened unit confined to /var/lib/grafana, and HTTP
# on its explicit address.
globals().update(component_contract(
    service="grafana", version=VERSION, binaries={"bin/grafana": "grafana"}, version_command="/usr/local/bin/grafana --version",
    config_files=[INI, DATASOURCES_FILE, PROVIDERS_FILE, DASHBOARD_FILE], data_dir="/var/lib/grafana", ports=[3000]))


def _get(host, path, user=None, password=None):
    """GET on the API from the host: (HTTP status, body)."""
    if user is None:
        result = host.run("curl -sS -w '\\n%%{http_code}' %s", f"{API}{path}")
    else:
        result = host.run("curl -sS -w '\\n%%{http_code}' -u %s %s", f"{user}:{password}", f"{API}{path}")
    assert result.rc == 0, result.stderr
    body, _sep, status = result.stdout.rpartition("\n")
    return int(status), body


def _admin_get(host, path, password=PASSWORD):
    status, body = _get(host, path, "admin", password)
    assert status == 200, (status, body)
    return json.loads(body)


def _ini(host):
    """grafana.ini as {section: {key: raw value}} ('' for keys outside any section)."""
    sections = {"": {}}
    current = ""
    for line in host.file(INI).content_string.splitlines():
        line = line.strip()
        if not line or line.startswith(";"):
            continue
        if line.startswith("["):
            current = line.strip("[]")
            sections[current] = {}
            continue
        key, _sep, value = line.partition(" = ")
        sections[current][key] = value
    return sections


def test_binaries_report_the_pinned_version(host):
    # Stricter than the shared check: the CLI's own version line.
    assert f"grafana version {VERSION}" in host.check_output("/usr/local/bin/grafana --version")


def test_release_tree_is_grafanas_home_path(host):
    binary = host.file(f"{TREE}/bin/grafana")
    assert (binary.user, binary.group, binary.mode) == ("root", "root", 0o755)
    # The unpacked tree is Grafana's home path: the top directory was stripped.
    assert host.file(f"{TREE}/conf/defaults.ini").is_file
    assert host.file(f"{TREE}/public").is_directory
    # Since Grafana 13 Loki, Prometheus and other data sources are plugins the
    # release bundles in data/plugins-bundled (paths.bundled_plugins), not core.
    assert host.file(f"{TREE}/data/plugins-bundled/loki").is_directory


def test_directories_unit_and_check_modes(host):
    for path in ("/etc/grafana/provisioning", "/etc/grafana/provisioning/datasources",
                 "/etc/grafana/dashboards", "/etc/grafana/dashboards/LGTM"):
        directory = host.file(path)
        assert (directory.user, directory.group, directory.mode) == ("root", "grafana", 0o750), path
    plugins = host.file("/var/lib/grafana/plugins")
    assert (plugins.user, plugins.group, plugins.mode) == ("grafana", "grafana", 0o750)
    unit = host.file(UNIT)
    assert (unit.user, unit.group, unit.mode) == ("root", "root", 0o644)
    assert host.check_output("systemctl show -p Group --value grafana") == "grafana"
    check = host.file(CHECK)
    assert (check.user, check.group, check.mode) == ("root", "root", 0o755)


def test_ini_is_written_from_data(host):
    ini = _ini(host)
    assert ini["server"] == {"protocol": "http", "http_addr": "0.0.0.0", "http_port": "3000"}
    assert ini["paths"] == {"data": "/var/lib/grafana", "logs": "/var/lib/grafana/log",
                            "plugins": "/var/lib/grafana/plugins", "provisioning": "/etc/grafana/provisioning"}
    assert ini["analytics"]["reporting_enabled"] == "false"
    assert ini["analytics"]["check_for_updates"] == "false"
    assert ini["analytics"]["check_for_plugin_updates"] == "false"
    assert ini["analytics"]["feedback_links_enabled"] == "false"
    # Grafana 12 and later: no plugins fetched or updated from grafana.com at start.
    assert ini["plugins"] == {"public_key_retrieval_disabled": "true", "preinstall_disabled": "true",
                              "preinstall_auto_update": "false"}
    assert ini["auth.anonymous"]["enabled"] == "false"
    assert ini["security"]["admin_user"] == "admin"
    # ';' and '#' would start a comment: the value is between triple quotes.
    assert ini["security"]["admin_password"] == f'"""{PASSWORD}"""'
    # The INI names the key file; Grafana reads the key from it.
    assert ini["security"]["secret_key"] == f"$__file{{{SECRET_KEY_FILE}}}"


def test_secret_key_is_generated_private_and_not_upstreams(host):
    key_file = host.file(SECRET_KEY_FILE)
    assert (key_file.user, key_file.group, key_file.mode) == ("root", "grafana", 0o640)
    key = key_file.content_string
    assert len(key) == 48 and key.isalnum(), "expected 48 random letters and digits"
    assert key != UPSTREAM_DEFAULT_SECRET_KEY
    assert key not in host.file(INI).content_string


def test_health(host):
    status, body = _get(host, "/api/health")
    assert status == 200
    assert json.loads(body)["database"] == "ok"


@pytest.mark.parametrize("plugin", sorted({source["type"] for source in DATASOURCES}))
def test_provisioned_data_source_types_load_without_the_preinstaller(host, plugin):
    # The preinstaller is off and the host needs no grafana.com: the plugin of
    # every provisioned data source comes with the release (core or bundled).
    settings = _admin_get(host, f"/api/plugins/{plugin}/settings")
    assert (settings["id"], settings["type"]) == (plugin, "datasource")


def test_no_plugin_was_installed_from_the_internet(host):
    assert host.check_output("find /var/lib/grafana/plugins -name plugin.json") == ""


def test_admin_api_call_with_the_configured_password(host):
    assert _admin_get(host, "/api/org")["name"] == "Main Org."
    assert _admin_get(host, "/api/user")["isGrafanaAdmin"] is True


def test_wrong_password_is_refused(host):
    status, _body = _get(host, "/api/org", "admin", f"{PASSWORD}-wrong")
    assert status == 401


def test_anonymous_is_refused(host):
    status, _body = _get(host, "/api/org")
    assert status == 401


@pytest.mark.parametrize("uid", [source["uid"] for source in DATASOURCES])
def test_datasources_are_provisioned(host, uid):
    expected = next(source for source in DATASOURCES if source["uid"] == uid)
    source = _admin_get(host, f"/api/datasources/uid/{uid}")
    assert (source["name"], source["type"], source["url"]) == (expected["name"], expected["type"], expected["url"])
    assert source["readOnly"] is True
    assert source["isDefault"] is expected.get("isDefault", False)
    # secureJsonData is stored encrypted and never returned.
    assert source["secureJsonFields"] == {key: True for key in expected.get("secureJsonData", {})}
    assert "secureJsonData" not in source


def test_dashboard_is_provisioned_in_its_folder(host):
    dashboard = _admin_get(host, "/api/dashboards/uid/lgtm-smoke")
    assert dashboard["dashboard"]["title"] == "LGTM smoke"
    assert dashboard["meta"]["provisioned"] is True
    assert dashboard["meta"]["folderTitle"] == "LGTM"


# Changed data takes effect on a running Grafana.

def _wait_for_status(host, path, status, password=PASSWORD, seconds=60):
    deadline = time.monotonic() + seconds
    while True:
        current, _body = _get(host, path, "admin", password)
        if current == status or time.monotonic() > deadline:
            return current
        time.sleep(2)


def test_changed_password_and_dashboards_take_effect(host):
    # Grafana applies admin_password only to a new database: the role resets
    # the password with grafana cli. A dashboard dropped from the list goes.
    new_password = f"rotated;#{secrets.token_hex(6)}"
    try:
        rc, output = apply_converge(host, {"grafana_admin_password": new_password, "grafana_dashboards": []})
        assert rc == 0, output
        assert new_password not in output
        assert _admin_get(host, "/api/org", password=new_password)["name"] == "Main Org."
        assert not host.file(DASHBOARD_FILE).exists
        assert _wait_for_status(host, "/api/dashboards/uid/lgtm-smoke", 404, password=new_password) == 404
    finally:
        rc, output = apply_converge(host, {})
    assert rc == 0, output
    assert PASSWORD not in output
    assert _admin_get(host, "/api/org")["name"] == "Main Org."
    assert _wait_for_status(host, "/api/dashboards/uid/lgtm-smoke", 200) == 200


def test_secret_key_given_is_kept_and_never_shown(host):
    # The key the database is encrypted with, given back: accepted, no change.
    key = host.file(SECRET_KEY_FILE).content_string
    rc, output = apply_converge(host, {"grafana_secret_key": key})
    assert rc == 0, output
    assert key not in output
    assert "changed=0" in output, output
    assert host.file(SECRET_KEY_FILE).content_string == key


# Negative cases: apply the role again with bad input; the play must fail and
# leave the host exactly as it was.

def _state(host):
    return component_state(host, "grafana", [INI, DATASOURCES_FILE, PROVIDERS_FILE, DASHBOARD_FILE, SECRET_KEY_FILE],
                           "/usr/local/bin/grafana")


def test_checksum_mismatch_fails_and_changes_nothing(first_host, tmp_path):
    # A "new version" whose artifact does not match its published checksum: the
    # play must stop at the download, before the new tree and links exist.
    # Upstream's <tarball>.sha256 holds the digest alone.
    host = first_host
    assert_checksum_mismatch_refused(host, lambda: _state(host), tmp_path, {
        "grafana_version": f"{VERSION}-1",
        "grafana_artifact_url": "{{ lgtm_artifact_mirror }}" + f"{RELEASE_PATH}/{TARBALL}",
        "lgtm_artifact_cache_dir": str(tmp_path / "cache"),
    }, "grafana_checksum_url", f"{TARBALL}.sha256", f"{WRONG_DIGEST}\n")


BROKEN = {
    # Grafana refuses to start: settings it cannot parse.
    "ini-bad-duration": {"grafana_ini_overrides": {"auth": {"login_maximum_lifetime_duration": "soon"}}},
    "ini-bad-root-url": {"grafana_ini_overrides": {"server": {"root_url": "://nowhere"}}},
    # Passes the role's checks, refused by Grafana's provisioning: no organisation 42.
    "datasource-unknown-org": {"grafana_datasources": DATASOURCES + [
        {"name": "Elsewhere", "type": "loki", "uid": "lgtm-elsewhere", "url": "http://127.0.0.1:3100", "orgId": 42}]},
}


@pytest.mark.parametrize("extra_vars", BROKEN.values(), ids=BROKEN.keys())
def test_broken_config_fails_validation_and_changes_nothing(first_host, extra_vars):
    host = first_host
    output = assert_refused_unchanged(host, lambda: _state(host), extra_vars, "failed to validate")
    # The files are secret: neither their content nor the admin password shows.
    assert PASSWORD not in output
    assert _get(host, "/api/health")[0] == 200


def test_refusal_shows_grafanas_own_log_lines_when_secrets_may_show(first_host):
    host = first_host
    assert_refused_unchanged(host, lambda: _state(host), {**BROKEN["datasource-unknown-org"], "lgtm_show_secrets": True},
                             "failed to get org by ID: 42")


def test_check_accepts_the_live_config_within_seconds(host):
    started = time.monotonic()
    result = host.run(f"{CHECK} --homepath /opt/observability-lgtm/grafana/current {INI} {INI}")
    assert result.rc == 0, result.stderr
    assert time.monotonic() - started < 30
    assert host.check_output("ls /tmp | grep -c lgtm-grafana-check || true") == "0"


def test_a_data_source_whose_plugin_grafana_did_not_load_fails_the_play_naming_it(first_host):
    # Provisioned all the same and /api/health answers 200: only the check after start shows it.
    host = first_host
    missing = {"name": "Nowhere", "type": "lgtm-missing-datasource", "uid": "lgtm-nowhere", "url": "http://127.0.0.1:9"}
    try:
        rc, output = apply_converge(host, {"grafana_datasources": DATASOURCES + [missing]})
        assert rc != 0, output
        assert ("lgtm-missing-datasource: not loaded (GET /api/plugins/lgtm-missing-datasource/settings answered 404: "
                "Plugin not found, no installed plugin with that id)") in output, output
        assert PASSWORD not in output
        assert _get(host, "/api/health")[0] == 200
    finally:
        rc, output = apply_converge(host, {})
        assert rc == 0, output
    assert "lgtm-nowhere" not in host.file(DATASOURCES_FILE).content_string


@pytest.mark.parametrize("extra_vars,named", [
    ({"grafana_admin_password": ""}, "grafana_admin_password"),
    ({"grafana_admin_password": None}, "grafana_admin_password"),
    ({"grafana_http_port": "web"}, "grafana_http_port"),
    ({"grafana_state": "gone"}, "grafana_state"),
    ({"grafana_log_level": "chatty"}, "grafana_log_level"),
    ({"grafana_ini_overrides": {"server": {"http port": 3001}}}, "grafana_ini_overrides"),
    ({"grafana_datasources": [{"name": "Untyped", "url": "http://127.0.0.1:3100"}]}, "grafana_datasources"),
    ({"grafana_datasources": [{"name": "A", "type": "loki", "uid": "twin"},
                              {"name": "B", "type": "loki", "uid": "twin"}]}, "repeated: twin"),
    ({"grafana_dashboards": [{"uid": "no-json"}]}, "grafana_dashboards"),
    ({"grafana_secret_key": "short"}, "grafana_secret_key"),
    # Under another key Grafana could not decrypt its database and would not start.
    ({"grafana_secret_key": "another-key-0123456789"}, "grafana_secret_key differs"),
], ids=["empty-admin-password", "null-admin-password", "wrong-type", "unknown-choice", "unknown-log-level",
        "bad-ini-key", "datasource-without-type", "duplicate-datasource-uid", "dashboard-without-json",
        "short-secret-key", "other-secret-key"])
def test_bad_input_fails_before_any_change(first_host, extra_vars, named):
    host = first_host
    output = assert_refused_unchanged(host, lambda: _state(host), extra_vars, named)
    assert "changed=0" in output, output
