# -*- coding: utf-8 -*-
# Copyright: observability.lgtm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Entry point of the grafana_datasources filter; the logic is module_utils/grafana_datasources.py.
Documentation for ansible-doc is in the ``grafana_datasources.yml`` sidecar file."""

from __future__ import annotations

from typing import Any, Dict, List

from ansible.errors import AnsibleFilterError

from ansible_collections.observability.lgtm.plugins.module_utils.grafana_datasources import (
    DatasourceError, grafana_datasources)
from ansible_collections.observability.lgtm.plugins.module_utils.stack_catalogue import CatalogueError

FILTER_NAME = "grafana_datasources"


def datasources(endpoints: Any, logins: Any = None, tls_ca_file: Any = "", kubernetes: Any = False) -> List[Dict[str, Any]]:
    """Grafana's data sources for the wired stack (see the sidecar documentation)."""
    if not isinstance(endpoints, dict):
        raise AnsibleFilterError(f"{FILTER_NAME}: expected the wiring_endpoints fact (a mapping), "
                                 f"got {type(endpoints).__name__}")
    if logins is not None and not isinstance(logins, dict):
        raise AnsibleFilterError(f"{FILTER_NAME}: logins must be a mapping of signal to credential, "
                                 f"got {type(logins).__name__}")
    if not isinstance(tls_ca_file, str) or (tls_ca_file and not tls_ca_file.startswith("/")):
        raise AnsibleFilterError(f"{FILTER_NAME}: tls_ca_file must be an absolute path or empty, got {tls_ca_file!r}")
    if not isinstance(kubernetes, bool):
        raise AnsibleFilterError(f"{FILTER_NAME}: kubernetes must be a boolean, got {kubernetes!r}")
    try:
        return grafana_datasources(endpoints, logins, tls_ca_file, kubernetes)
    except (CatalogueError, DatasourceError) as error:
        raise AnsibleFilterError(f"{FILTER_NAME}: {error}") from None


class FilterModule:
    """Grafana's data sources, one per signal."""

    def filters(self) -> Dict[str, Any]:
        return {FILTER_NAME: datasources}
