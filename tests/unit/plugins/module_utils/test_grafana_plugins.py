# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The grafana role's post-start plugin check, decided from Grafana's plugin API answers alone.

Grafana cannot run here (AGPL), so the answers are written from Grafana's own
source, field for field, not from a server:

- 200: ``dtos.PluginSetting`` (pkg/api/dtos/plugins.go of grafana/grafana, stored
  copy at commit 3ba4aa6858f9): name, type, id, enabled, pinned, autoEnabled, module,
  baseUrl, info (``plugins.Info``: author, description, links, logos, build,
  screenshots, version, updated, keywords), includes, dependencies, extensions,
  jsonData, secureJsonFields, defaultNavUrl, latestVersion, hasUpdate, state,
  signature, signatureType, signatureOrg, angularDetected, loadingStrategy;
- 404: ``response.Error(http.StatusNotFound, "Plugin not found, no installed plugin
  with that id", nil)`` in ``GetPluginSettingByID`` (pkg/api/plugins.go), which
  Grafana serialises as ``{"message": ...}``; grafana/grafana issue #123110 quotes
  that body from a Grafana 13.0.1 whose Elasticsearch plugin was missing.

Each answer is wrapped the way ``ansible.builtin.uri`` registers a loop item
(the loop variable and ``ansible_loop_var``, ``status``, ``json``, ``msg``, ``url``).
"""

from __future__ import annotations

import copy

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.observability.lgtm.plugins.filter.grafana_missing_plugins import grafana_missing_plugins
from ansible_collections.observability.lgtm.plugins.module_utils.grafana_plugins import (
    PluginCheckError,
    missing_plugins,
)

NOT_FOUND = {"message": "Plugin not found, no installed plugin with that id"}


def plugin_setting(plugin_id: str, version: str, plugin_type: str = "datasource") -> dict:
    """A dtos.PluginSetting body as Grafana serialises it (values illustrative, keys from the source)."""
    return {
        "name": plugin_id, "type": plugin_type, "id": plugin_id, "enabled": True, "pinned": False,
        "autoEnabled": False, "module": f"public/plugins/{plugin_id}/module.js",
        "baseUrl": f"public/plugins/{plugin_id}",
        "info": {"author": {"name": "Grafana Labs", "url": "https://grafana.com"},
                 "description": "", "links": [], "logos": {"small": "", "large": ""},
                 "build": {}, "screenshots": None, "version": version, "updated": "", "keywords": None},
        "includes": None, "dependencies": {"grafanaDependency": ">=12.3.0", "grafanaVersion": "*", "plugins": [],
                                           "extensions": {"exposedComponents": []}},
        "extensions": {"addedLinks": [], "addedComponents": [], "exposedComponents": [], "extensionPoints": [],
                       "addedFunctions": []},
        "jsonData": None, "secureJsonFields": None, "defaultNavUrl": "/plugins/" + plugin_id,
        "latestVersion": "", "hasUpdate": False, "state": "", "signature": "valid", "signatureType": "grafana",
        "signatureOrg": "Grafana Labs", "angularDetected": False, "loadingStrategy": "script",
    }


def answer(plugin_id: str, status: int, body: dict | None) -> dict:
    """One item of the registered uri loop, whose loop variable is grafana_plugin (tasks/main.yml)."""
    registered = {"grafana_plugin": plugin_id, "ansible_loop_var": "grafana_plugin",
                  "status": status, "changed": False, "failed": False,
                  "url": f"http://127.0.0.1:3000/api/plugins/{plugin_id}/settings",
                  "msg": f"OK ({len(str(body))} bytes)" if status == 200 else f"HTTP Error {status}: Not Found",
                  "redirected": False, "content_type": "application/json"}
    if body is not None:
        registered["json"] = body
    return registered


ALL_LOADED = [answer("tempo", 200, plugin_setting("tempo", "13.2.3")),
              answer("prometheus", 200, plugin_setting("prometheus", "13.2.3")),
              answer("victoriametrics-logs-datasource", 200, plugin_setting("victoriametrics-logs-datasource", "0.30.1"))]
PINNED = {"victoriametrics-logs-datasource": "0.30.1"}


def test_every_plugin_loaded_at_its_pin_is_no_problem():
    assert missing_plugins(ALL_LOADED, PINNED) == []
    # As registered by a loop (a mapping with results), and through the filter.
    assert missing_plugins({"results": ALL_LOADED, "changed": False}, PINNED) == []
    assert grafana_missing_plugins({"results": ALL_LOADED}, PINNED) == []


def test_a_plugin_grafana_did_not_load_is_named_with_grafanas_answer():
    answers = copy.deepcopy(ALL_LOADED)
    answers[1] = answer("victoriametrics-logs-datasource", 404, NOT_FOUND)
    answers[2] = answer("jaeger", 404, NOT_FOUND)
    assert missing_plugins(answers, PINNED) == [
        "jaeger: not loaded (GET /api/plugins/jaeger/settings answered 404: "
        "Plugin not found, no installed plugin with that id)",
        "victoriametrics-logs-datasource: not loaded (GET /api/plugins/victoriametrics-logs-datasource/settings "
        "answered 404: Plugin not found, no installed plugin with that id)"]


def test_an_installed_plugin_loaded_at_another_version_is_named():
    answers = copy.deepcopy(ALL_LOADED)
    answers[2]["json"]["info"]["version"] = "0.29.0"
    assert missing_plugins(answers, PINNED) == [
        "victoriametrics-logs-datasource: loaded version 0.29.0, the role installs 0.30.1"]
    # A bundled plugin's version is Grafana's business: only the role's own pins are compared.
    answers[0]["json"]["info"]["version"] = "13.4.2"
    assert len(missing_plugins(answers, PINNED)) == 1


def test_an_answer_for_another_plugin_or_type_is_not_a_loaded_data_source():
    wrong_id = answer("tempo", 200, plugin_setting("loki", "13.2.3"))
    app = answer("grafana-lokiexplore-app", 200, plugin_setting("grafana-lokiexplore-app", "1.0.0", "app"))
    assert missing_plugins([wrong_id, app]) == [
        "grafana-lokiexplore-app: loaded, but its type is 'app', not 'datasource'",
        "tempo: GET /api/plugins/tempo/settings answered with the settings of 'loki'"]


def test_no_answer_at_all_is_a_problem_too():
    # What uri registers when nothing answers (status -1, no json).
    silent = {"item": "tempo", "ansible_loop_var": "item", "status": -1, "failed": False, "msg": "Status code was -1 and not [200, 404]: "
              "Request failed: <urlopen error [Errno 111] Connection refused>"}
    assert missing_plugins([silent]) == [
        "tempo: not loaded (GET /api/plugins/tempo/settings answered -1: Status code was -1 and not [200, 404]: "
        "Request failed: <urlopen error [Errno 111] Connection refused>)"]
    assert missing_plugins([answer("tempo", 200, None)]) == [
        "tempo: GET /api/plugins/tempo/settings answered 200 without the plugin's settings"]


@pytest.mark.parametrize("bad", [None, "tempo", [{"status": 200}], [{"item": "", "status": 200}], [3],
                                 [{"ansible_loop_var": "grafana_plugin", "item": "tempo", "status": 200}]])
def test_answers_not_shaped_as_the_check_registers_them_are_refused(bad):
    with pytest.raises(PluginCheckError):
        missing_plugins(bad)
    with pytest.raises(AnsibleFilterError, match="^grafana_missing_plugins: "):
        grafana_missing_plugins(bad)


def test_pins_must_be_a_mapping():
    with pytest.raises(AnsibleFilterError, match="pinned must map plugin ids to versions"):
        grafana_missing_plugins(ALL_LOADED, ["victoriametrics-logs-datasource"])
