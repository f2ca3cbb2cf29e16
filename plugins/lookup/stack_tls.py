# -*- coding: utf-8 -*-
# Copyright: observability.lgtm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Entry point of the stack_tls lookup; the setting is read in module_utils/stack_settings.py."""

from __future__ import annotations

DOCUMENTATION = r"""
name: stack_tls
author: observability.lgtm contributors (@observability-lgtm)
short_description: Whether the stack serves TLS, from the collection-wide lgtm_tls
description:
  - Returns C(true) when the collection-wide variable C(lgtm_tls) is on, C(false) when it is off or unset.
  - The one place that reads C(lgtm_tls). Every role, the wiring and C(site.yml) ask this lookup, so its
    default and what counts as a boolean are written once.
  - A value that is not a boolean (C(true), C(false), C(yes), C(no), C(on), C(off), C(1), C(0)) fails,
    naming C(lgtm_tls), before any change.
options: {}
"""

EXAMPLES = r"""
- name: The scheme a component's URL takes
  ansible.builtin.debug:
    msg: "{{ 'https' if lookup('observability.lgtm.stack_tls') else 'http' }}"
"""

RETURN = r"""
_raw:
  description: One boolean, whether TLS is on.
  type: list
  elements: bool
"""

from typing import Any, List

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase

from ansible_collections.observability.lgtm.plugins.module_utils.stack_settings import (
    TLS_VARIABLE, SettingError, tls_enabled,
)


class LookupModule(LookupBase):
    """Whether TLS is on across the stack."""

    def run(self, terms: List[Any], variables: Any = None, **kwargs: Any) -> List[Any]:
        if terms:
            raise AnsibleLookupError(f"stack_tls takes no terms, got {terms!r}")
        value = (variables or {}).get(TLS_VARIABLE)
        if value is not None and self._templar is not None:
            value = self._templar.template(value)
        try:
            return [tls_enabled(value)]
        except SettingError as error:
            raise AnsibleLookupError(str(error)) from None
