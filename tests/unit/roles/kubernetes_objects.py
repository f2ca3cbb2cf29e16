"""Each role's Kubernetes objects as the role would create them: the role's
defaults and vars loaded by Ansible with lgtm_platform=kubernetes and its
component description passed through the k8s_manifests filter.

Shared by the static checks (tests/unit/roles/test_kubernetes_objects.py) and
the kubernetes scenario, which sends the Grafana-stack objects to the lab
cluster's API server as a server-side dry run.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[3]
PLAY = """
- name: Render each role's Kubernetes objects
  hosts: localhost
  connection: local
  gather_facts: false
  vars:
    ansible_python_interpreter: "{{{{ ansible_playbook_python }}}}"
    lgtm_platform: kubernetes
    repo: "{repo}"
  tasks:
    - name: Load the role's defaults and vars
      ansible.builtin.include_vars:
        file: "{{{{ repo }}}}/roles/{{{{ item[0] }}}}/{{{{ item[1] }}}}/main.yml"
      loop: "{{{{ {roles} | product(['defaults', 'vars']) | list }}}}"
    - name: Render the collector configuration as the role's preflight does
      when: "'otel_collector' in {roles}"
      ansible.builtin.set_fact:
        otel_collector_config: "{{{{ otel_collector_effective_spec | observability.lgtm.otelcol_config }}}}"
    - name: Load the shared lifecycle's defaults and vars
      ansible.builtin.include_vars:
        file: "{{{{ repo }}}}/roles/common/{{{{ item }}}}/main.yml"
      loop: [defaults, vars]
    # What the lifecycle applies (common_k8s_manifests): the role's description with the
    # lifecycle's own settings (the NetworkPolicy switch) merged in.
    - name: Write the objects
      ansible.builtin.copy:
        content: "{{{{ common_k8s_manifests | to_json }}}}"
        dest: "{out}/{{{{ item }}}}.json"
        mode: "0600"
      loop: "{{{{ {roles} }}}}"
      vars:
        lgtm_kubernetes_namespace: "{namespace}"
        common_component: "{{{{ lookup('ansible.builtin.vars', item ~ '_component') }}}}"
        demo_shop_service: "{{{{ demo_shop_services[1] }}}}"
        demo_shop_component: "{{{{ demo_shop_kubernetes_component }}}}"
"""


def render_objects(out: Path, roles: list[str], namespace: str, extra_vars: dict[str, Any]) -> dict[str, Any]:
    """The objects of each role, by role; extra_vars are what a user gives (from a vault, say)."""
    (out / "play.yml").write_text(PLAY.format(repo=REPO, roles=repr(roles), out=out, namespace=namespace))
    result = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,", str(out / "play.yml"),
         "--extra-vars", json.dumps(extra_vars)],
        capture_output=True, text=True, check=False, timeout=300,
        env={**os.environ, "ANSIBLE_FORCE_COLOR": "0", "ANSIBLE_NOCOLOR": "1", "ANSIBLE_STDOUT_CALLBACK": "default"})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return {role: json.loads((out / f"{role}.json").read_text()) for role in roles}
