# -*- coding: utf-8 -*-
# Copyright: observability.lgtm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bounds of role variables that an argument spec cannot express.

Ansible's argument spec checks types and choices, but it accepts an empty
string for a path and any integer for a port. Each role declares what its spec
cannot say in ``meta/input_bounds.yml`` (ansible-lint's schema for
``meta/argument_specs.yml`` refuses extra keys there), one entry per option,
keyed by the option's name (``parent.child`` for a sub-option):

- ``port``: an integer from 1 to 65535;
- ``{min: N, max: M}``: an integer in that range (either end may be left out,
  not both);
- ``may_be_empty``: a ``str``, ``path``, ``list`` or ``dict`` option that may be
  empty (an empty value means something, such as "use the default");
- ``non_empty``: a ``list`` or ``dict`` option that must hold an item;
- ``users``: a ``dict`` option of basic-auth users, username to password:
  each username a non-empty string without ``:`` (htpasswd files split on
  it), each password a non-empty string; it may be empty (no users).

Everything not declared follows the rules by type: a ``str`` or ``path``
option (without ``choices``, which the spec enforces) must not be empty or
blank; an ``int`` option must have a declared range, and the declarations are
refused without one, so that a new integer option cannot go unchecked; ``list``
and ``dict`` options may be empty; ``bool`` and ``raw`` options are not
checked. A value given as None (a YAML ``~``) counts as empty: the argument
spec lets it through as "not given", but the role would then use None.

``input_problems`` returns one sentence per problem, naming the option, what is
wrong with its value and what is allowed; it shows an integer's value but never
a string's (it may be a secret), nor a password. Declarations that do not fit the spec raise
``BoundsError``: that is a mistake of the role, not of its user.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, Optional, Tuple

from ansible.module_utils.common.validation import check_type_int

MAY_BE_EMPTY = "may_be_empty"
NON_EMPTY = "non_empty"
USERS = "users"
# Option types whose value can be empty; of those, the ones refused empty unless declared may_be_empty.
EMPTIABLE_TYPES = ("str", "path", "list", "dict")
NON_EMPTY_BY_DEFAULT = ("str", "path")
COLLECTION_TYPES = ("list", "dict")
# An option without a declaration, or a value not given.
MISSING = object()


class BoundsError(Exception):
    """The declarations do not fit the argument spec (each problem one string)."""

    def __init__(self, problems: List[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class IntRange:
    """An inclusive integer range; either end may be open, and ``what`` names a well-known range."""

    minimum: Optional[int] = None
    maximum: Optional[int] = None
    what: str = ""

    def contains(self, value: int) -> bool:
        return (self.minimum is None or value >= self.minimum) and (self.maximum is None or value <= self.maximum)

    def describe(self) -> str:
        if self.minimum is not None and self.maximum is not None:
            text = f"an integer from {self.minimum} to {self.maximum}"
        elif self.minimum is not None:
            text = f"an integer of at least {self.minimum}"
        else:
            text = f"an integer of at most {self.maximum}"
        return f"{text} ({self.what})" if self.what else text


# Ranges declared by name.
NAMED_RANGES: Dict[str, IntRange] = {"port": IntRange(1, 65535, "a TCP port")}


@dataclass(frozen=True)
class Rule:
    """What one option's value must satisfy."""

    type: str
    int_range: Optional[IntRange] = None
    non_empty: bool = False
    users: bool = False


def spec_options(options: Any, prefix: str = "") -> Iterator[Tuple[str, Mapping]]:
    """Every option of an argument spec's ``options`` with its dotted name, sub-options of dicts included."""
    if not isinstance(options, Mapping):
        return
    for name, option in options.items():
        if not isinstance(option, Mapping):
            continue
        dotted = f"{prefix}{name}"
        yield dotted, option
        if option.get("type") == "dict" and isinstance(option.get("options"), Mapping):
            yield from spec_options(option["options"], f"{dotted}.")


def parse_range(name: str, declared: Any) -> Tuple[Optional[IntRange], List[str]]:
    """The range a declaration states, or the problems with it."""
    if isinstance(declared, str):
        if declared in NAMED_RANGES:
            return NAMED_RANGES[declared], []
        return None, [f"{name}: an int option needs a range ({' or '.join(sorted(NAMED_RANGES))} or {{min, max}}), "
                      f"got {declared!r}"]
    if not isinstance(declared, Mapping):
        return None, [f"{name}: a declaration must be a name or a mapping, got {type(declared).__name__}"]
    unknown = sorted(str(key) for key in declared if key not in ("min", "max"))
    if unknown:
        return None, [f"{name}: unknown keys {unknown} (a range has min and max)"]
    ends = {}
    for key in ("min", "max"):
        end = declared.get(key)
        if end is not None and (isinstance(end, bool) or not isinstance(end, int)):
            return None, [f"{name}: {key} must be an integer, got {end!r}"]
        ends[key] = end
    if ends["min"] is None and ends["max"] is None:
        return None, [f"{name}: a range needs min, max or both"]
    if ends["min"] is not None and ends["max"] is not None and ends["min"] > ends["max"]:
        return None, [f"{name}: min {ends['min']} is above max {ends['max']}"]
    return IntRange(ends["min"], ends["max"]), []


def option_rule(name: str, option: Mapping, declared: Any) -> Tuple[Optional[Rule], List[str]]:
    """The rule of one option from its spec and its declaration (MISSING when none), or the problems."""
    option_type = option.get("type", "str")
    if option_type == "int":
        if declared is MISSING:
            return None, [f"{name}: an int option needs a declared range ({' or '.join(sorted(NAMED_RANGES))} or {{min, max}})"]
        int_range, problems = parse_range(name, declared)
        return (Rule(option_type, int_range=int_range) if int_range else None), problems
    if declared is MISSING:
        checked = option_type in NON_EMPTY_BY_DEFAULT and "choices" not in option
        return Rule(option_type, non_empty=checked), []
    if declared == MAY_BE_EMPTY and option_type in EMPTIABLE_TYPES:
        return Rule(option_type), []
    if declared == NON_EMPTY and option_type in COLLECTION_TYPES:
        return Rule(option_type, non_empty=True), []
    if declared == USERS and option_type == "dict":
        return Rule(option_type, users=True), []
    return None, [f"{name}: {declared!r} does not apply to a {option_type} option"]


def option_rules(options: Any, declarations: Any) -> Dict[str, Rule]:
    """The rule of every option, by dotted name; raises BoundsError when the declarations do not fit the spec."""
    if declarations is None:
        declarations = {}
    if not isinstance(declarations, Mapping):
        raise BoundsError([f"the declarations must be a mapping of option names, got {type(declarations).__name__}"])
    specified = dict(spec_options(options))
    rules: Dict[str, Rule] = {}
    problems = [f"{name}: no such option in the argument spec" for name in sorted(map(str, declarations))
                if name not in specified]
    for name, option in specified.items():
        rule, option_problems = option_rule(name, option, declarations.get(name, MISSING))
        problems.extend(option_problems)
        if rule is not None:
            rules[name] = rule
    if problems:
        raise BoundsError(problems)
    return rules


def declaration_problems(options: Any, declarations: Any) -> List[str]:
    """What is wrong with the declarations for this spec (empty when they fit)."""
    try:
        option_rules(options, declarations)
    except BoundsError as error:
        return error.problems
    return []


def given_value(values: Mapping, dotted: str) -> Any:
    """The value at a dotted name, or MISSING when it (or a parent) was not given or is not a mapping."""
    value: Any = values
    for part in dotted.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return MISSING
        value = value[part]
    return value


def is_empty(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, (Mapping, list, tuple)):
        return len(value) == 0
    return False


def value_problem(name: str, rule: Rule, value: Any) -> Optional[str]:
    """The problem with one value under its rule, or None."""
    if rule.int_range is not None:
        if value is None:
            return f"{name} is empty: it must be {rule.int_range.describe()}"
        try:
            if isinstance(value, bool):
                raise TypeError("a boolean is not an integer")
            number = check_type_int(value)
        except TypeError:
            # Not the value itself: a string may be a secret.
            return f"{name} is a {type(value).__name__}, not an integer: it must be {rule.int_range.describe()}"
        if not rule.int_range.contains(number):
            return f"{name} is {number}: it must be {rule.int_range.describe()}"
        return None
    if rule.users and value is not None:
        return users_problem(name, value)
    if rule.non_empty and is_empty(value):
        if rule.type in COLLECTION_TYPES:
            return f"{name} is empty: it must hold at least one item"
        return f"{name} is empty or blank: it must be a non-empty {'path' if rule.type == 'path' else 'string'}"
    return None


def users_problem(name: str, users: Any) -> Optional[str]:
    """The problem with a mapping of usernames to passwords, naming users but never a password."""
    if not isinstance(users, Mapping):
        return f"{name} is a {type(users).__name__}: it must map usernames to passwords"
    bad_names = [username for username in users if not isinstance(username, str) or not username.strip() or ":" in username]
    if bad_names:
        return f"{name} has usernames {bad_names!r}: each must be a non-empty string without ':'"
    no_password = [username for username, password in users.items() if not isinstance(password, str) or not password]
    if no_password:
        return f"{name} has users without a password ({', '.join(no_password)}): each needs a non-empty string"
    return None


def input_problems(values: Any, options: Any, declarations: Any) -> List[str]:
    """The problems of the given values (by option name; options not given are skipped), in spec order."""
    if not isinstance(values, Mapping):
        raise BoundsError([f"the values must be a mapping of option names, got {type(values).__name__}"])
    problems = []
    for name, rule in option_rules(options, declarations).items():
        value = given_value(values, name)
        if value is MISSING:
            continue
        problem = value_problem(name, rule, value)
        if problem:
            problems.append(problem)
    return problems
