# -*- coding: utf-8 -*-
# Copyright: observability.lgtm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection-wide settings every component shares, read in one place.

`lgtm_tls` turns on TLS for every listener and every connection between the
components. Roles, the wiring and site.yml do not read it themselves: they ask
the `stack_tls` lookup, which reads it here, so that its default (off) and what
counts as a boolean are written once, and a value that is not a boolean fails
naming the variable instead of silently meaning "off".

`lgtm_architecture` overrides a host's machine architecture, which names the
release files the roles install. The `stack_catalogue` lookup (`machine`,
`release_architectures`) reads it here, with the host's fact behind it.
"""

from __future__ import annotations

from typing import Any

TLS_VARIABLE = "lgtm_tls"
TLS_DEFAULT = False

# What Ansible's own `bool` filter takes as true or false, no more: anything
# else is far more likely a mistake than a wish for plain text.
TRUE_WORDS = frozenset(("true", "yes", "on", "1"))
FALSE_WORDS = frozenset(("false", "no", "off", "0", ""))


class SettingError(ValueError):
    """A collection-wide setting holds a value it cannot mean."""


def tls_enabled(value: Any = None) -> bool:
    """Whether the stack serves TLS, from the value of `lgtm_tls` (None: unset).

    >>> tls_enabled(None), tls_enabled(True), tls_enabled("yes"), tls_enabled("off")
    (False, True, True, False)
    """
    if value is None:
        return TLS_DEFAULT
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
    raise SettingError(f"{TLS_VARIABLE} must be a boolean (true or false), got {value!r}")


ARCHITECTURE_VARIABLE = "lgtm_architecture"


def host_machine(lgtm_architecture: Any = None, facts_architecture: Any = None, ansible_architecture: Any = None) -> str:
    """A host's machine architecture as the roles read it: the collection-wide `lgtm_architecture` when
    set (not empty), else its gathered fact (`ansible_facts.architecture`), else an `ansible_architecture`
    variable (a fact injected as one, or set in the inventory); '' while none is known (facts not gathered
    yet). The name is returned as given, an alias too (the stack catalogue resolves it).

    >>> host_machine("arm64", "x86_64"), host_machine(None, "x86_64", "aarch64"), host_machine("", None, None)
    ('arm64', 'x86_64', '')
    """
    for given in (lgtm_architecture, facts_architecture, ansible_architecture):
        if given is not None and str(given) != "":
            return str(given)
    return ""
