# -*- coding: utf-8 -*-
# Copyright: observability.lgtm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which data source plugins a running Grafana has not loaded: the grafana role's post-start check.

A data source whose plugin Grafana has not loaded is still provisioned, and
``/api/health`` still answers 200: only the plugin API shows the gap. Once
Grafana is up, the role asks it, as the admin, for the settings of the plugin
of every provisioned data source, ``GET /api/plugins/<id>/settings``. Grafana
answers 200 with the plugin's settings (``dtos.PluginSetting``: ``id``,
``type``, ``info.version``, ...) when it has loaded the plugin, and 404
``{"message": "Plugin not found, no installed plugin with that id"}`` when it
has not (``GetPluginSettingByID`` in ``pkg/api/plugins.go``, ``PluginSetting``
in ``pkg/api/dtos/plugins.go`` of grafana/grafana).

This module decides, from those answers alone, what is missing; it talks to
nothing. The role fails naming every plugin it returns.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional

SETTINGS_PATH = "/api/plugins/{}/settings"


class PluginCheckError(ValueError):
    """The answers are not what the role's check registers; the message says what is wrong."""


def _answer_problem(plugin: str, answer: Mapping[str, Any], pinned: Mapping[str, str]) -> Optional[str]:
    """The problem with one plugin's answer, or None when it is loaded (at its pin, if the role installs it)."""
    status = answer.get("status")
    body = answer.get("json")
    path = SETTINGS_PATH.format(plugin)
    if status != 200:
        detail = body.get("message") if isinstance(body, Mapping) else None
        detail = detail or answer.get("msg") or "no answer"
        return f"{plugin}: not loaded (GET {path} answered {status}: {detail})"
    if not isinstance(body, Mapping):
        return f"{plugin}: GET {path} answered 200 without the plugin's settings"
    if body.get("id") != plugin:
        return f"{plugin}: GET {path} answered with the settings of {body.get('id')!r}"
    if body.get("type") != "datasource":
        return f"{plugin}: loaded, but its type is {body.get('type')!r}, not 'datasource'"
    if plugin in pinned:
        info = body.get("info")
        loaded = info.get("version") if isinstance(info, Mapping) else None
        if loaded != pinned[plugin]:
            return f"{plugin}: loaded version {loaded}, the role installs {pinned[plugin]}"
    return None


def missing_plugins(answers: Any, pinned: Optional[Mapping[str, Any]] = None) -> List[str]:
    """One problem per data source plugin that is not loaded, sorted by plugin id.

    ``answers`` are the results the role's check registers, one per plugin id,
    each a mapping with the plugin id under its loop variable (``item``, or the
    name ``ansible_loop_var`` gives), ``status`` (the HTTP status, -1 when
    nothing answered) and, when Grafana answered JSON, ``json``; a whole
    registered loop (a mapping with ``results``) is taken too.
    ``pinned`` maps the plugins the role installs to their pinned version: a
    loaded plugin of another version is a problem too. Empty when all is well.
    """
    if isinstance(answers, Mapping) and "results" in answers:
        answers = answers["results"]
    if not isinstance(answers, list):
        raise PluginCheckError(f"expected the list of the check's answers, got {type(answers).__name__}")
    pins: Dict[str, str] = {str(plugin): str(version) for plugin, version in (pinned or {}).items()}
    problems: Dict[str, str] = {}
    for index, answer in enumerate(answers):
        plugin = answer.get(answer.get("ansible_loop_var", "item")) if isinstance(answer, Mapping) else None
        if not isinstance(plugin, str) or not plugin:
            raise PluginCheckError(f"answer {index} has no plugin id (its loop item)")
        problem = _answer_problem(plugin, answer, pins)
        if problem:
            problems[plugin] = problem
    return [problems[plugin] for plugin in sorted(problems)]
