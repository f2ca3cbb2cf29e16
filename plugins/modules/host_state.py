#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: observability.lgtm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Entry point of the host_state module; the comparison lives in module_utils/host_state.py."""

from __future__ import annotations

DOCUMENTATION = r"""
module: host_state
author: observability.lgtm contributors (@observability-lgtm)
version_added: "1.1.0"
short_description: Compare files, directories, links and users on a host with an expected state, read-only
description:
  - Reports every difference between the host and a list of expected paths (kind, owner, group, mode, content
    digest, link target) and service accounts, in one round trip. It never changes anything.
  - The shared lifecycle role C(observability.lgtm.common) uses it to skip install and configure steps that
    would change nothing; any difference sends the run down the full path.
options:
  expected:
    description:
      - The paths to compare. Each entry has C(path) (absolute) and C(kind) (C(file), C(directory) or C(link)),
        and optionally C(owner), C(group), C(mode) (octal string), C(sha256) (files) and C(target) (links).
      - Keys left out are not compared.
    type: list
    elements: dict
    default: []
  users:
    description:
      - Service accounts that must exist. Each entry has C(name), and optionally C(group) (the primary
        group), C(home) and C(shell); keys left out are not compared.
    type: list
    elements: dict
    default: []
attributes:
  check_mode:
    description: Reads only; runs the same in check mode.
    support: full
  diff_mode:
    description: Reports differences in its result, never as a diff.
    support: none
"""

EXAMPLES = r"""
- name: Compare the collector's files with what this run would write
  observability.lgtm.host_state:
    users: [{name: otelcol, group: otelcol, shell: /usr/sbin/nologin}]
    expected:
      - {path: /etc/otelcol, kind: directory, owner: root, group: otelcol, mode: "0750"}
      - {path: /etc/otelcol/config.yaml, kind: file, sha256: "{{ config_text | hash('sha256') }}"}
      - {path: /usr/local/bin/otelcol-contrib, kind: link, target: /opt/observability-lgtm/otelcol/current/otelcol-contrib}
  register: otelcol_state
"""

RETURN = r"""
differences:
  description: One line per difference, naming the path or account; empty when the host is as expected.
  returned: always
  type: list
  elements: str
  sample: ["/etc/otelcol/config.yaml: content differs"]
matches:
  description: True when there is no difference.
  returned: always
  type: bool
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.observability.lgtm.plugins.module_utils.host_state import differences, read_expected, read_users


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "expected": {"type": "list", "elements": "dict", "default": []},
            "users": {"type": "list", "elements": "dict", "default": []},
        },
        supports_check_mode=True,
    )
    try:
        expected = read_expected(module.params["expected"])
        users = read_users(module.params["users"])
    except ValueError as error:
        module.fail_json(msg=f"host_state: {error}")
    found = differences(expected, users)
    module.exit_json(changed=False, differences=found, matches=not found)


if __name__ == "__main__":
    main()
