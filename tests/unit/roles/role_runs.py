"""The real roles run in check mode, one inventory host per case, in one ansible-playbook run.

Shared by test_input_bounds_refuse_bad_input.py and test_credentials_refused.py.
Each host of group <role>_cases runs observability.lgtm.<role> with its own host
variables; a failure is rescued so that the next play runs (a play whose every
host failed ends the run). Every host points at nothing real: were a check
missing, the role would go on, in check mode, towards a mirror that does not
answer and directories under the run's own work directory.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import yaml

Results = Dict[str, List[Dict[str, Any]]]


def run_roles_in_check_mode(work: Path, hosts: Dict[str, Dict[str, Dict[str, Any]]], play_name: str,
                            group_vars: Optional[Dict[str, Dict[str, Any]]] = None, verbose: bool = False,
                            forks: int = 5) -> Tuple[Results, str]:
    """hosts: role -> host -> host variables (plays in that order of roles); group_vars: role -> variables
    of its group. Returns each host's task results in order (with the task's name) and the whole output;
    with verbose the run is at -vvv."""
    groups: Dict[str, Any] = {f"{role}_cases": {"hosts": role_hosts} for role, role_hosts in hosts.items()}
    for role, variables in (group_vars or {}).items():
        groups[f"{role}_cases"]["vars"] = variables
    inventory = {"all": {"children": groups, "vars": {
        "ansible_connection": "local", "ansible_python_interpreter": sys.executable,
        "lgtm_install_root": str(work / "opt"), "lgtm_artifact_cache_dir": str(work / "cache"),
        "lgtm_artifact_mirror": "http://127.0.0.1:9"}}}
    (work / "inventory.yml").write_text(yaml.safe_dump(inventory))
    plays = [{
        "name": f"{play_name} {role}", "hosts": f"{role}_cases", "gather_facts": False,
        "tasks": [{"name": "Refuse", "block": [{
            "name": f"Run {role}", "ansible.builtin.include_role": {"name": f"observability.lgtm.{role}"}}],
            "rescue": [{"name": "Refused", "ansible.builtin.debug": {"msg": "refused"}}]}],
    } for role in hosts]
    (work / "play.yml").write_text(yaml.safe_dump(plays, sort_keys=False))
    result = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(work / "inventory.yml"),
         str(work / "play.yml"), "--check", "--forks", str(forks), *(["-vvv"] if verbose else [])],
        capture_output=True, text=True, check=False, timeout=900, cwd=work,
        env={**os.environ, "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json", "ANSIBLE_NOCOLOR": "1"})
    # The JSON callback's document is the whole output; at -vvv it follows Ansible's own header lines.
    start = result.stdout.find("\n{\n") + 1 if verbose else 0
    assert result.stdout[start:].startswith("{"), result.stdout[-3000:] + result.stderr[-3000:]
    results: Results = {}
    for play in json.loads(result.stdout[start:])["plays"]:
        for task in play["tasks"]:
            for host, outcome in task["hosts"].items():
                results.setdefault(host, []).append({**outcome, "task": task["task"]["name"]})
    return results, result.stdout + result.stderr
