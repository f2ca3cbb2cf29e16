"""Which other collections the shipped content uses, found where Ansible would load them from.

Shared by test_collection_dependencies.py. "Used" means: a task's module or action
(``ns.coll.name:`` as the task's action key, or ``action:``/``local_action:``), a
``module_defaults`` entry (``ns.coll.module`` or ``group/ns.coll.group``), a role of
another collection (``include_role``/``import_role``, a play's ``roles:``, a role's
``meta/main.yml`` dependencies), a play's or role's ``collections:`` keyword, a lookup
(``lookup('ns.coll.x')``, ``query``, ``q``), a filter (``| ns.coll.x``) or a test
(``is ns.coll.x``) anywhere in a YAML string or a template, and a Python import of
``ansible_collections.ns.coll`` in a plugin. ``ansible.builtin`` and ``ansible.legacy``
are ansible-core itself.

A task's action is the key that is not a task keyword, the keywords being Ansible's
own (the attributes of its Task, Handler and Block classes), so a new keyword in a
later ansible-core is never mistaken for a module.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Set, Tuple

import yaml
from ansible.playbook.block import Block
from ansible.playbook.handler import Handler
from ansible.playbook.task import Task

REPO = Path(__file__).resolve().parents[3]
CORE = {"ansible.builtin", "ansible.legacy"}
TASK_KEYWORDS = set(Task.fattributes) | set(Handler.fattributes) | set(Block.fattributes) | {"local_action"}
PLAY_TASK_LISTS = ("pre_tasks", "tasks", "post_tasks", "handlers")

_NAME = r"[a-z][a-z0-9_]*"
FQCN = re.compile(rf"^({_NAME})\.({_NAME})\.({_NAME})$")
# Jinja: lookup('ns.coll.x' / query( / q(, a filter | ns.coll.x, a test is [not] ns.coll.x.
JINJA_USES = (
    ("lookup", re.compile(rf"""\b(?:lookup|query|q)\(\s*['"]({_NAME})\.({_NAME})\.({_NAME})\b""")),
    ("filter", re.compile(rf"\|\s*({_NAME})\.({_NAME})\.({_NAME})\b")),
    ("test", re.compile(rf"\bis\s+(?:not\s+)?({_NAME})\.({_NAME})\.({_NAME})\b")),
)

Uses = Dict[str, Set[str]]  # collection -> where and how it is used ("roles/x/tasks/main.yml: module ns.coll.m")


class _AnyTagLoader(yaml.SafeLoader):
    """Reads Ansible's own tags (!unsafe, !vault) as the plain value they wrap."""


def _plain(loader: yaml.SafeLoader, _suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    return loader.construct_mapping(node)


_AnyTagLoader.add_multi_constructor("!", _plain)


def _add(uses: Uses, name: str, where: str, kind: str) -> None:
    match = FQCN.match(name.strip())
    if match:
        collection = f"{match.group(1)}.{match.group(2)}"
        uses.setdefault(collection, set()).add(f"{where}: {kind} {name.strip()}")


def _add_collection(uses: Uses, name: Any, where: str) -> None:
    if isinstance(name, str) and re.fullmatch(rf"{_NAME}\.{_NAME}", name.strip()):
        uses.setdefault(name.strip(), set()).add(f"{where}: collections keyword {name.strip()}")


def _strings(data: Any) -> Iterator[str]:
    if isinstance(data, str):
        yield data
    elif isinstance(data, dict):
        for key, value in data.items():
            yield from _strings(key)
            yield from _strings(value)
    elif isinstance(data, list):
        for item in data:
            yield from _strings(item)


def jinja_uses(text: str, where: str, uses: Uses) -> None:
    """Lookups, filters and tests of other collections in a template or a YAML string."""
    for kind, pattern in JINJA_USES:
        for match in pattern.finditer(text):
            _add(uses, ".".join(match.groups()), where, kind)


def _role_reference(uses: Uses, entry: Any, where: str) -> None:
    name = entry.get("role") or entry.get("name") if isinstance(entry, dict) else entry
    if isinstance(name, str):
        _add(uses, name, where, "role")


def _module_defaults(uses: Uses, defaults: Any, where: str) -> None:
    entries = defaults if isinstance(defaults, list) else [defaults]
    for entry in entries:
        for key in entry if isinstance(entry, dict) else ():
            _add(uses, key.removeprefix("group/"), where, "module_defaults" if "/" not in key else "module_defaults group")


def task_uses(tasks: Any, where: str, uses: Uses) -> None:
    """The modules, actions, roles and module_defaults of a task list (blocks included)."""
    for task in tasks if isinstance(tasks, list) else ():
        if not isinstance(task, dict):
            continue
        for section in ("block", "rescue", "always"):
            task_uses(task.get(section), where, uses)
        _module_defaults(uses, task.get("module_defaults"), where)
        for name in task.get("collections") or ():
            _add_collection(uses, name, where)
        for keyword in ("action", "local_action"):
            value = task.get(keyword)
            module = value.get("module") if isinstance(value, dict) else (value.split()[0] if value else None)
            if isinstance(module, str):
                _add(uses, module, where, "module")
        for key, args in task.items():
            if key in TASK_KEYWORDS or key.startswith("with_"):
                continue
            _add(uses, key, where, "module")
            if key.split(".")[-1] in ("include_role", "import_role") and isinstance(args, dict):
                _role_reference(uses, args, where)


def play_uses(plays: Any, where: str, uses: Uses) -> None:
    for play in plays if isinstance(plays, list) else ():
        if not isinstance(play, dict):
            continue
        if "hosts" not in play:  # import_playbook and the like: a task-shaped entry
            task_uses([play], where, uses)
            continue
        _module_defaults(uses, play.get("module_defaults"), where)
        for name in play.get("collections") or ():
            _add_collection(uses, name, where)
        for role in play.get("roles") or ():
            _role_reference(uses, role, where)
        for section in PLAY_TASK_LISTS:
            task_uses(play.get(section), where, uses)


def python_uses(source: str, where: str, uses: Uses) -> None:
    """Imports of another collection's Python (module_utils, plugins) in a plugin."""
    for node in ast.walk(ast.parse(source)):
        names: Iterable[str] = ()
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        for name in names:
            parts = name.split(".")
            if parts[0] == "ansible_collections" and len(parts) >= 3:
                uses.setdefault(f"{parts[1]}.{parts[2]}", set()).add(f"{where}: import {name}")


def load_yaml(path: Path) -> Any:
    return yaml.load(path.read_text(), Loader=_AnyTagLoader)  # noqa: S506 - a SafeLoader subclass


def collection_uses(root: Path = REPO) -> Uses:
    """Every collection the roles, playbooks and plugins under root use, with where."""
    uses: Uses = {}
    for path in sorted(root.glob("roles/**/*")) + sorted(root.glob("playbooks/**/*")) + sorted(root.glob("meta/*")):
        if not path.is_file():
            continue
        where = str(path.relative_to(root))
        parts = path.relative_to(root).parts
        if path.suffix in (".yml", ".yaml"):
            data = load_yaml(path)
            for text in _strings(data):
                jinja_uses(text, where, uses)
            if parts[0] == "playbooks" and len(parts) == 2:
                play_uses(data, where, uses)
            elif parts[0] == "roles" and parts[2] in ("tasks", "handlers"):
                task_uses(data, where, uses)
            elif parts[0] == "roles" and parts[2] == "meta" and path.stem == "main" and isinstance(data, dict):
                for dependency in data.get("dependencies") or ():
                    _role_reference(uses, dependency, where)
                for name in data.get("collections") or ():
                    _add_collection(uses, name, where)
        elif path.suffix == ".j2":
            jinja_uses(path.read_text(), where, uses)
    for path in sorted(root.glob("plugins/**/*.py")):
        python_uses(path.read_text(), str(path.relative_to(root)), uses)
    return uses


def other_collections(uses: Uses, own: str) -> Dict[str, List[str]]:
    """The uses of collections other than ansible-core's and the collection's own."""
    return {name: sorted(places) for name, places in sorted(uses.items()) if name not in CORE | {own}}


def module_calls(root: Path, collection: str) -> Iterator[Tuple[str, str, List[str], Dict[str, List[str]]]]:
    """(file, module, options given in the task, module_defaults in force there) of every task that
    calls a module of collection; a module_defaults entry is a module or ``group/<group>`` and its options."""
    for path in sorted(root.glob("roles/*/tasks/*.yml")) + sorted(root.glob("roles/*/handlers/*.yml")):
        yield from _calls(load_yaml(path), str(path.relative_to(root)), collection, {})


def _calls(tasks: Any, where: str, collection: str,
           defaults: Dict[str, List[str]]) -> Iterator[Tuple[str, str, List[str], Dict[str, List[str]]]]:
    for task in tasks if isinstance(tasks, list) else ():
        if not isinstance(task, dict):
            continue
        in_force = dict(defaults)
        for key, options in (task.get("module_defaults") or {}).items():
            in_force[key] = sorted(options or {})
        for section in ("block", "rescue", "always"):
            yield from _calls(task.get(section), where, collection, in_force)
        for key, args in task.items():
            if key in TASK_KEYWORDS or key.startswith("with_") or not key.startswith(collection + "."):
                continue
            yield where, key, sorted(args) if isinstance(args, dict) else [], in_force
