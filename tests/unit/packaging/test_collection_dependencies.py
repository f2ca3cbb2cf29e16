"""galaxy.yml's dependencies are exactly the collections the shipped content uses, at versions that have
what it uses.

A user who installs the collection gets its dependencies and nothing else next to ansible-core: a used
collection left out makes a Kubernetes or TLS run fail on an unknown module, a declared one nobody uses is
installed for nothing. Every FQCN of the roles, playbooks and plugins is compared with the declaration,
both ways (collection_usage.py says what counts as a use). Then every module and option the roles pass to a
dependency must exist in the release of it that the venv's ansible bundle holds, and must be no newer than
the declared minimum (its version_added, from ansible-doc). The bug fixes that raise a minimum above that
are named beside each dependency in galaxy.yml.
"""
from __future__ import annotations

import functools
import json
import os
import re
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any, Dict, List

import pytest
import yaml
from ansible.module_utils.compat.version import LooseVersion

sys.path.insert(0, str(Path(__file__).resolve().parent))
from collection_usage import REPO, collection_uses, module_calls, other_collections  # noqa: E402

GALAXY = yaml.safe_load((REPO / "galaxy.yml").read_text())
OWN = f"{GALAXY['namespace']}.{GALAXY['name']}"
DECLARED: Dict[str, str] = GALAXY.get("dependencies") or {}
BUNDLE = Path(sysconfig.get_paths()["purelib"]) / "ansible_collections"


def minimum(constraint: str) -> str:
    """The lowest version a galaxy.yml range allows (its >= bound)."""
    bounds = [part.strip()[2:].strip() for part in constraint.split(",") if part.strip().startswith(">=")]
    assert len(bounds) == 1, f"{constraint!r} needs exactly one '>=' bound: the lowest version that works"
    return bounds[0]


def test_declared_dependencies_are_exactly_the_collections_used() -> None:
    used = other_collections(collection_uses(), OWN)
    undeclared = {name: places for name, places in used.items() if name not in DECLARED}
    unused = sorted(set(DECLARED) - set(used))
    assert not undeclared and not unused, (
        "galaxy.yml dependencies differ from what the roles, playbooks and plugins use:\n"
        + "".join(f"  used but not declared: {name}, in\n    " + "\n    ".join(places) + "\n"
                  for name, places in undeclared.items())
        + "".join(f"  declared but used nowhere: {name}\n" for name in unused))


@pytest.mark.parametrize("snippet, kind, expected", [
    ("- name: A module\n  ns_one.coll_one.mod: {}\n", "roles/x/tasks/main.yml", "ns_one.coll_one"),
    ("- name: Block\n  block:\n    - name: Nested\n      ns_one.coll_one.mod: {a: 1}\n", "roles/x/tasks/main.yml",
     "ns_one.coll_one"),
    ("- name: Defaults\n  module_defaults:\n    group/ns_one.coll_one.grp: {a: 1}\n  block: []\n",
     "roles/x/tasks/main.yml", "ns_one.coll_one"),
    ("- name: Action\n  action: ns_one.coll_one.mod a=1\n", "roles/x/tasks/main.yml", "ns_one.coll_one"),
    ("- name: Role\n  ansible.builtin.include_role:\n    name: ns_one.coll_one.role\n", "roles/x/tasks/main.yml",
     "ns_one.coll_one"),
    ("x: \"{{ lookup('ns_one.coll_one.look', 'a') }}\"\n", "roles/x/defaults/main.yml", "ns_one.coll_one"),
    ("x: \"{{ query('ns_one.coll_one.look') }}\"\n", "roles/x/vars/main.yml", "ns_one.coll_one"),
    ("x: \"{{ y | ns_one.coll_one.filt }}\"\n", "roles/x/defaults/main.yml", "ns_one.coll_one"),
    ("- name: Test\n  ansible.builtin.debug: {}\n  when: y is not ns_one.coll_one.tst\n", "roles/x/handlers/main.yml",
     "ns_one.coll_one"),
    ("{{ y | ns_one.coll_one.filt }}\n", "roles/x/templates/a.j2", "ns_one.coll_one"),
    ("- hosts: all\n  roles: [{role: ns_one.coll_one.role}]\n", "playbooks/p.yml", "ns_one.coll_one"),
    ("- hosts: all\n  collections: [ns_one.coll_one]\n  tasks: []\n", "playbooks/p.yml", "ns_one.coll_one"),
    ("dependencies: [{role: ns_one.coll_one.role}]\n", "roles/x/meta/main.yml", "ns_one.coll_one"),
    ("from ansible_collections.ns_one.coll_one.plugins.module_utils.u import f\n", "plugins/filter/f.py",
     "ns_one.coll_one"),
])
def test_every_form_of_use_is_found(tmp_path: Path, snippet: str, kind: str, expected: str) -> None:
    """The comparison above is only as good as the search: each way a collection can be used is found."""
    path = tmp_path / kind
    path.parent.mkdir(parents=True)
    path.write_text(snippet)
    assert expected in collection_uses(tmp_path), f"a use in {kind} was not found:\n{snippet}"


def test_a_task_keyword_is_not_taken_for_a_module(tmp_path: Path) -> None:
    (tmp_path / "roles/x/tasks").mkdir(parents=True)
    (tmp_path / "roles/x/tasks/main.yml").write_text(
        "- name: A task\n  ansible.builtin.debug: {msg: app.kubernetes.io}\n  loop_control: {label: a.b.c}\n"
        "  vars: {k8s.pod.name: 1}\n  when: x.y.z\n")
    assert set(collection_uses(tmp_path)) == {"ansible.builtin"}


@functools.lru_cache(maxsize=None)
def module_docs() -> Dict[str, Any]:
    """The documentation of every dependency module the roles call, as ansible-doc reads it from the
    venv's ansible bundle (one call: each costs seconds)."""
    modules = sorted({call[1] for collection in DECLARED for call in module_calls(REPO, collection)})
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    result = subprocess.run([str(Path(sys.executable).parent / "ansible-doc"), "-j", "-t", "module", *modules],
                            capture_output=True, text=True, check=False, timeout=300, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    return {name: entry["doc"] for name, entry in json.loads(result.stdout).items()}


def action_group(collection: str, group: str) -> List[str]:
    """The modules a module_defaults group of a collection covers (its meta/runtime.yml action_groups)."""
    runtime = yaml.safe_load((BUNDLE / collection.replace(".", "/") / "meta" / "runtime.yml").read_text())
    return [f"{collection}.{member.split('.')[-1]}" for member in runtime.get("action_groups", {}).get(group, [])
            if isinstance(member, str)]


@pytest.mark.parametrize("collection", sorted(DECLARED))
def test_each_module_and_option_used_is_in_the_declared_minimum(collection: str) -> None:
    floor = minimum(DECLARED[collection])
    calls = list(module_calls(REPO, collection))
    assert calls, f"no task of the roles calls a module of {collection}"
    docs = module_docs()
    problems: List[str] = []
    for where, module, given, defaults in calls:
        doc = docs.get(module)
        if not doc:
            problems.append(f"{where}: {module} is not in {collection} as the ansible bundle has it")
            continue
        options = set(given)
        for scope, scoped in defaults.items():
            group = scope.removeprefix("group/")
            if scope == module or (scope.startswith("group/") and group.startswith(collection + ".")
                                   and module in action_group(collection, group.split(".")[-1])):
                options |= set(scoped)
        module_since = str(doc.get("version_added") or "0")
        if LooseVersion(module_since) > LooseVersion(floor):
            problems.append(f"{where}: {module} was added in {module_since}, after the declared minimum {floor}")
        aliases = {alias: name for name, spec in doc["options"].items() for alias in spec.get("aliases") or ()}
        for option in sorted(options):
            spec = doc["options"].get(aliases.get(option, option))
            if spec is None:
                problems.append(f"{where}: {module} has no option {option}")
                continue
            since = str(spec.get("version_added") or module_since)
            if LooseVersion(since) > LooseVersion(floor):
                problems.append(f"{where}: {module}'s option {option} came in {since}, after the declared minimum {floor}")
    assert not problems, "\n".join(sorted(set(problems)))


def test_each_constraint_names_one_lowest_version() -> None:
    for name, constraint in DECLARED.items():
        assert re.fullmatch(r"\d+\.\d+\.\d+", minimum(constraint)), f"{name}: {constraint!r}"
