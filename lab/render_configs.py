"""Render what site.yml would write for a scenario's inventory, without hosts.

For refactors that must not change behaviour: render before and after, then
compare the two folders byte for byte (`diff -r BEFORE AFTER`).

    python lab/render_configs.py OUT [SCENARIO ...]

Each scenario's inventory is read from its molecule/<scenario>/molecule.yml
(platform groups and host_vars; the kubernetes_tls variant adds the TLS
settings the Kubernetes scenario's TLS phase re-converges with). A playbook
generated from playbooks/site.yml then runs every play of site.yml on those
groups with the same role parameters, but each component role only up to its
preflight (which renders what needs rendering, and changes nothing; a role
without one runs only its input checks), every host reached over the local
connection. What lands in OUT/<scenario>/:

- wiring.json: the wiring facts (wiring_endpoints) of each host;
- <host>/<role>[-<n>].json: the component as the shared lifecycle would get it
  (config file contents, unit, readiness, credentials omitted) and, on
  Kubernetes, the manifests built from it (without the TLS files, whose
  generated keys differ on every run).

Secrets the scenarios generate (lookup password) are kept in --ephemeral, so
two renders with the same folder use the same ones.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

import stack_catalogue

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SCENARIOS = ("default", "distributed", "tls", "kubernetes", "kubernetes_tls", "default_lgtm", "distributed_lgtm")

# The Kubernetes scenario's TLS phase (tests/molecule/kubernetes/test_kubernetes_tls.py).
KUBERNETES_TLS_VARS = {
    "lgtm_tls": True, "lgtm_tls_generate_ca": True, "lgtm_tls_ca_dir": "${MOLECULE_EPHEMERAL_DIRECTORY}/ca",
    "lgtm_otlp_bearer_token": "render-token",
    # No traces password: Jaeger 2.12.0 has no basicauth extension.
    **{f"lgtm_{signal}_basic_auth": {"username": "collector", "password": f"render-{signal}-password"}
       for signal in ("metrics", "logs")},
}


def molecule_config(path: Path, scenario: str, ephemeral: Path) -> dict[str, Any]:
    """A Molecule config file with the variables Molecule fills in (${NAME-default} from the environment)."""
    text = path.read_text()
    text = text.replace("${MOLECULE_EPHEMERAL_DIRECTORY}", str(ephemeral / scenario))
    text = text.replace("${MOLECULE_PROJECT_DIRECTORY}", str(REPO))
    text = re.sub(r"\$\{([A-Z_]+)-([^}]*)\}", lambda match: os.environ.get(match[1], match[2]), text)
    return yaml.safe_load(text)


def scenario_inventory(scenario: str, ephemeral: Path) -> dict[str, Any]:
    """The scenario's groups and host vars, every host on the local connection; the group vars of
    every scenario (.config/molecule/config.yml) under the scenario's own, as Molecule merges them."""
    source = "kubernetes" if scenario == "kubernetes_tls" else scenario
    molecule = molecule_config(REPO / "molecule" / source / "molecule.yml", scenario, ephemeral)
    shared = molecule_config(REPO / ".config" / "molecule" / "config.yml", scenario, ephemeral)
    inventory = molecule.get("provisioner", {}).get("inventory", {})
    host_vars: dict[str, dict] = inventory.get("host_vars", {})
    hosts: dict[str, dict] = {}
    groups: dict[str, dict] = {}
    for platform in molecule["platforms"]:
        name = platform["name"]
        extra = dict(KUBERNETES_TLS_VARS) if scenario == "kubernetes_tls" else {}
        if extra:
            extra["lgtm_tls_ca_dir"] = str(ephemeral / scenario / "ca")
        hosts[name] = {**host_vars.get(name, {}), **extra,
                       "ansible_connection": "local", "ansible_python_interpreter": sys.executable}
        for group in platform.get("groups", []):
            groups.setdefault(group, {"hosts": {}})["hosts"][name] = {}
    all_vars = {**shared.get("provisioner", {}).get("inventory", {}).get("group_vars", {}).get("all", {}),
                **inventory.get("group_vars", {}).get("all", {})}
    return {"all": {"hosts": hosts, "vars": all_vars, "children": groups}}


# The component as the lifecycle gets it, less the users' passwords, and on
# Kubernetes the objects built from it.
DUMP = """{%- set component = lookup('ansible.builtin.vars', 'COMPONENT') -%}
{{ {'component': component | dict2items | rejectattr('key', 'eq', 'credentials') | items2dict,
    'manifests': (component | observability.lgtm.k8s_manifests(lgtm_kubernetes_namespace | default('observability')))
                 if component.kubernetes | default({}) else none} | to_nice_json(sort_keys=true) }}
"""


def entry_tasks(role: str) -> str:
    """Where a role's run stops short of any change: its preflight, or, for a
    role that has none, its main tasks with the role's own tag skipped
    (ROLE_TAGS_SKIPPED), which leaves the input checks tagged always."""
    return "preflight" if (REPO / "roles" / role / "tasks" / "preflight.yml").exists() else "main"


def roles_without_preflight() -> list[str]:
    return sorted(path.parent.parent.name for path in (REPO / "roles").glob("*/tasks/main.yml")
                  if entry_tasks(path.parent.parent.name) == "main")


def dump_task(role: str, path: str) -> dict[str, Any]:
    """Write the role's component description (the demo shop: each service's, on
    Kubernetes as on hosts, since its host services share the same environment)."""
    task: dict[str, Any] = {"name": f"Dump {role}", "delegate_to": "localhost"}
    if role == "demo_shop":
        task["ansible.builtin.copy"] = {"dest": path + "-{{ demo_shop_service.name }}.json",
                                        "content": DUMP.replace("COMPONENT", "demo_shop_kubernetes_component")}
        task["loop"] = "{{ demo_shop_services }}"
        task["loop_control"] = {"loop_var": "demo_shop_service"}
    else:
        task["ansible.builtin.copy"] = {"dest": path + ".json", "content": DUMP.replace("COMPONENT", role + "_component")}
    return task


def one_play_per_role(plays: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """site.yml's plays with its play over the catalogue's backends (one include_role looping over
    them) split into one play per backend, in the catalogue's order: each backend's renders are then
    numbered by its own place in the run, whatever other backends share its play."""
    backends = stack_catalogue.CATALOGUE.backends()
    split: list[dict[str, Any]] = []
    for play in plays:
        looped = [task for task in play.get("tasks", []) if "loop" in task]
        if not looped:
            split.append(play)
            continue
        task = looped[0]
        assert len(play["tasks"]) == 1 and "'backends'" in task["loop"], f"unexpected loop in {play['name']}"
        loop_var = task["loop_control"]["loop_var"]
        for backend in backends:
            include = {key: value.replace("{{ %s }}" % loop_var, backend)
                       for key, value in task["ansible.builtin.include_role"].items()}
            split.append({**play, "hosts": backend,
                          "tasks": [{"name": task["name"], "ansible.builtin.include_role": include}]})
    return split


def render_playbook(out: Path) -> list[dict[str, Any]]:
    """site.yml's plays, each component role run up to its preflight, then dumped."""
    site = one_play_per_role(yaml.safe_load((REPO / "playbooks" / "site.yml").read_text()))
    plays: list[dict[str, Any]] = [{
        "name": "Work out who is where", "hosts": "all", "gather_facts": False,
        "tasks": [
            {"name": "Set the wiring facts", "ansible.builtin.include_role": {"name": "observability.lgtm.wiring"}},
            {"name": "Dump the wiring facts", "delegate_to": "localhost",
             "ansible.builtin.copy": {"dest": f"{out}/{{{{ inventory_hostname }}}}/wiring.json",
                                      "content": "{{ wiring_endpoints | to_nice_json(sort_keys=true) }}\n"}},
        ]}]
    for index, play in enumerate(site[1:]):
        calls: list[dict[str, Any]] = []
        for role in play.get("roles", []):
            params = {key: value for key, value in role.items() if key != "role"}
            calls.append({"role": role["role"], "vars": params, "when": None})
        for task in play.get("tasks", []):
            include = task["ansible.builtin.include_role"]
            calls.append({"role": include["name"], "vars": task.get("vars", {}), "when": task.get("when")})
        tasks: list[dict[str, Any]] = []
        for number, call in enumerate(calls):
            short = call["role"].split(".")[-1]
            block = {
                "name": f"Render {short}",
                "block": [
                    {"name": f"Run {short} up to its preflight",
                     "ansible.builtin.include_role": {"name": call["role"], "tasks_from": entry_tasks(short),
                                                      "public": True}},
                    dump_task(short, f"{out}/{{{{ inventory_hostname }}}}/{index:02d}-{short}-{number}"),
                ],
                "vars": call["vars"],
            }
            if call["when"]:
                block["when"] = call["when"]
            tasks.append(block)
        plays.append({"name": play["name"], "hosts": play["hosts"], "gather_facts": False,
                      "vars_files": [str(REPO / "playbooks" / path) for path in play.get("vars_files", [])],
                      "tasks": tasks})
    return plays


def render(scenario: str, out: Path, ephemeral: Path) -> None:
    target = out / scenario
    target.mkdir(parents=True, exist_ok=True)
    work = ephemeral / scenario
    work.mkdir(parents=True, exist_ok=True)
    inventory = scenario_inventory(scenario, ephemeral)
    for host in inventory["all"]["hosts"]:
        (target / host).mkdir(exist_ok=True)
    (work / "inventory.yml").write_text(yaml.safe_dump(inventory))
    # site.yml's vars read files relative to the playbook (dashboards/*.json).
    dashboards = work / "dashboards"
    if not dashboards.is_symlink():
        dashboards.symlink_to(REPO / "playbooks" / "dashboards")
    (work / "render.yml").write_text(yaml.safe_dump(render_playbook(target), sort_keys=False))
    env = {**os.environ, "ANSIBLE_FORCE_COLOR": "0", "ANSIBLE_NOCOLOR": "1", "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.default"}
    result = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(work / "inventory.yml"),
         str(work / "render.yml"), "--skip-tags", ",".join(roles_without_preflight())], capture_output=True, text=True, check=False, env=env, timeout=900)
    (work / "ansible.log").write_text(result.stdout + result.stderr)
    if result.returncode != 0:
        raise SystemExit(f"{scenario}: ansible-playbook failed (exit {result.returncode}); read {work / 'ansible.log'}")
    for dump in target.rglob("*.json"):
        mask_written_once(dump)
    print(f"{scenario}: {len(list(target.rglob('*.json')))} files in {target}")


def mask_written_once(dump: Path) -> None:
    """A file written only when missing (force: false, e.g. Grafana's generated
    secret key) holds a new random value on every render: not compared."""
    data = json.loads(dump.read_text())
    files = ((data.get("component") or {}).get("config_files") or []) if isinstance(data, dict) else []
    masked = False
    for entry in files:
        if entry.get("force") is False:
            entry["content"] = "(written once on the host, random: not compared)"
            masked = True
    if masked:
        dump.write_text(json.dumps(data, indent=4, sort_keys=True) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("scenarios", nargs="*", default=list(DEFAULT_SCENARIOS))
    parser.add_argument("--ephemeral", type=Path, default=Path("/tmp/lgtm-render-ephemeral"))
    args = parser.parse_args()
    for scenario in args.scenarios:
        render(scenario, args.out.resolve(), args.ephemeral.resolve())


if __name__ == "__main__":
    main()
