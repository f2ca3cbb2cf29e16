# -*- coding: utf-8 -*-
# Copyright: observability.lgtm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The data source plugins a running Grafana has not loaded, from its plugin API's answers.

This file is the entry point only; the decision is in
plugins/module_utils/grafana_plugins.py. Documentation for ansible-doc is in the
``grafana_missing_plugins.yml`` sidecar file.
"""

from __future__ import annotations

from typing import Any, Dict, List

from ansible.errors import AnsibleFilterError

from ansible_collections.observability.lgtm.plugins.module_utils.grafana_plugins import (
    PluginCheckError,
    missing_plugins,
)

FILTER_NAME = "grafana_missing_plugins"


def grafana_missing_plugins(answers: Any, pinned: Any = None) -> List[str]:
    """One problem per plugin that is not loaded (see the module)."""
    if pinned is not None and not isinstance(pinned, dict):
        raise AnsibleFilterError(f"{FILTER_NAME}: pinned must map plugin ids to versions, got {type(pinned).__name__}")
    try:
        return missing_plugins(answers, pinned)
    except PluginCheckError as error:
        raise AnsibleFilterError(f"{FILTER_NAME}: {error}") from None


class FilterModule:
    """The grafana role's post-start plugin check."""

    def filters(self) -> Dict[str, Any]:
        return {FILTER_NAME: grafana_missing_plugins}
