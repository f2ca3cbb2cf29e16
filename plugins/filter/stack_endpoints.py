# -*- coding: utf-8 -*-
# Copyright: observability.lgtm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Entry point of the stack_endpoints filter; the logic is module_utils/stack_wiring.py.
Documentation for ansible-doc is in the ``stack_endpoints.yml`` sidecar file."""

from __future__ import annotations

from typing import Any, Dict, Mapping, Sequence

from ansible.errors import AnsibleFilterError

from ansible_collections.observability.lgtm.plugins.module_utils.stack_catalogue import CatalogueError
from ansible_collections.observability.lgtm.plugins.module_utils.stack_wiring import Inventory, stack_endpoints

FILTER_NAME = "stack_endpoints"


def endpoints(hostvars: Mapping[str, Mapping[str, Any]], groups: Mapping[str, Sequence[str]],
              component_groups: Mapping[str, str], backends: Mapping[str, str], tls: bool = False) -> Dict[str, Any]:
    """The wiring_endpoints fact from the inventory (see the sidecar documentation)."""
    for name, value in (("groups", groups), ("component_groups", component_groups), ("backends", backends)):
        if not isinstance(value, Mapping):
            raise AnsibleFilterError(f"{FILTER_NAME}: {name} must be a mapping, got {type(value).__name__}")
    try:
        return stack_endpoints(Inventory(groups, hostvars, component_groups), backends, bool(tls))
    except (CatalogueError, KeyError, ValueError) as error:
        raise AnsibleFilterError(f"{FILTER_NAME}: {error}") from None


class FilterModule:
    """Where every component of the stack is reached."""

    def filters(self) -> Dict[str, Any]:
        return {FILTER_NAME: endpoints}
