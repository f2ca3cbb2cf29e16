"""`lgtm_tls` is read in one place: the stack_tls lookup (module_utils/stack_settings.py).

Roles, the wiring, site.yml and the stack's vars ask the lookup; none evaluates
`lgtm_tls` itself. Comments and documentation may name it. Tests and scenarios
set it as input, which is not reading it, so they are not scanned.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterator

import yaml

REPO = Path(__file__).resolve().parents[4]
PRODUCT = ("roles", "playbooks", "plugins")
# The variable itself, not lgtm_tls_generate_ca and friends.
NAME = re.compile(r"\blgtm_tls\b(?!_)")
JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.DOTALL)
# Keys whose whole value is an expression (a string or a list of them).
EXPRESSION_KEYS = frozenset(("when", "that", "changed_when", "failed_when", "until"))
READER = REPO / "plugins" / "module_utils" / "stack_settings.py"


def expressions(node: Any, key: str = "") -> Iterator[str]:
    """Every expression Ansible would evaluate in a loaded YAML document."""
    if isinstance(node, dict):
        for child_key, child in node.items():
            yield from expressions(child, str(child_key))
    elif isinstance(node, list):
        for child in node:
            yield from expressions(child, key)
    elif isinstance(node, str):
        if key in EXPRESSION_KEYS:
            yield node
        else:
            yield from JINJA.findall(node)


def python_readers(text: str) -> list[str]:
    """Lines of Python code naming the variable, the ansible-doc blocks and comments aside."""
    code = re.sub(r'(DOCUMENTATION|EXAMPLES|RETURN)\s*=\s*r?""".*?"""', "", text, flags=re.DOTALL)
    return [line for line in code.splitlines() if NAME.search(line) and not line.lstrip().startswith("#")]


def test_only_the_lookup_reads_lgtm_tls():
    readers = []
    for top in PRODUCT:
        for path in sorted((REPO / top).rglob("*")):
            if path == READER or path.suffix not in (".yml", ".yaml", ".py"):
                continue
            text = path.read_text()
            if path.suffix == ".py":
                found = python_readers(text)
            else:
                found = [found for document in yaml.safe_load_all(text) for found in expressions(document)
                         if NAME.search(found)]
            readers += [f"{path.relative_to(REPO)}: {item.strip()[:120]}" for item in found]
    assert readers == [], "read lgtm_tls through lookup('observability.lgtm.stack_tls') instead:\n" + "\n".join(readers)


def test_the_scan_sees_a_reader():
    """The check above finds the expressions it exists to forbid, and only those."""
    document = yaml.safe_load("""
- name: a task
  ansible.builtin.debug:
    msg: "lgtm_tls is {{ 'on' if lgtm_tls | bool else 'off' }}"
  when: lgtm_tls
- ansible.builtin.assert:
    that:
      - lgtm_tls_ca_dir | length > 0
    fail_msg: set lgtm_tls first
""")
    assert [found for found in expressions(document) if NAME.search(found)] == [
        "{{ 'on' if lgtm_tls | bool else 'off' }}", "lgtm_tls"]
    assert python_readers("x = variables.get('lgtm_tls')\n# lgtm_tls\n") == ["x = variables.get('lgtm_tls')"]
