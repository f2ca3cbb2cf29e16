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
  it), each password a non-empty string; it may be empty (no users);
- ``mapping``: a ``dict`` option whose value must be a mapping (it may be
  empty): the argument spec lets a string such as ``a=1`` through as a dict
  but the role would get the string;
- a string form, for a ``str`` or ``path`` option whose value must be a
  string of that grammar (see ``STRING_FORMS``): ``host_port``,
  ``absolute_path``, ``absolute_path_or_empty``, ``go_duration``, ``prometheus_duration``,
  ``victorialogs_duration``, ``version`` (X.Y.Z, a suffix allowed) or
  ``exact_version`` (X.Y.Z alone);
- ``{form: NAME, distinct: GROUP}`` or ``{form: NAME, distinct_ports: GROUP}``
  (``form`` may be left out, or replaced by ``min``/``max``): besides its form,
  the option's value must differ from that of every other option of the
  group (``distinct``; integers compare as numbers), or its port from theirs
  (``distinct_ports``, for ``host_port`` and ``port`` options). A group is a
  label shared by the options of one role, such as ``listeners``.

Everything not declared follows the rules by type: a ``str`` or ``path``
option (without ``choices``, which the spec enforces) must not be empty or
blank; an ``int`` option must have a declared range, and the declarations are
refused without one, so that a new integer option cannot go unchecked; ``list``
and ``dict`` options may be empty; ``bool`` and ``raw`` options are not
checked. A value given as None (a YAML ``~``) counts as empty: the argument
spec lets it through as "not given", but the role would then use None.

``input_problems`` returns one sentence per problem, naming the option, what is
wrong with its value and what is allowed (a group's problem names the option
it clashes with too); it shows an integer's value but never a string's (it may
be a secret), nor a password. Declarations that do not fit the spec raise
``BoundsError``: that is a mistake of the role, not of its user.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Dict, Iterator, List, Optional, Tuple

from ansible.module_utils.common.validation import check_type_int

MAY_BE_EMPTY = "may_be_empty"
NON_EMPTY = "non_empty"
USERS = "users"
MAPPING = "mapping"
# The keys of a declaration that combines a form with a group (and the range keys it may hold instead of a form).
FORM = "form"
DISTINCT = "distinct"
DISTINCT_PORTS = "distinct_ports"
GROUP_KEYS = (DISTINCT, DISTINCT_PORTS)
RANGE_KEYS = ("min", "max")
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
class StringForm:
    """A grammar a string option's value must match (in full), and how the message states it."""

    pattern: "re.Pattern[str]"
    describe: str

    def matches(self, value: str) -> bool:
        return self.pattern.fullmatch(value) is not None


# The host of host:port is empty (every interface), a name or IPv4 address, or an IPv6 address in brackets.
HOST_PORT = re.compile(r"(?:\[[^\s\]]*\]|[^\s:]*):[0-9]{1,5}")
STRING_FORMS: Dict[str, StringForm] = {
    "host_port": StringForm(HOST_PORT,
                            "host:port, such as 0.0.0.0:4317 or [::1]:4317 (an empty host listens on every interface)"),
    # What Ansible's `is abs` accepts.
    "absolute_path": StringForm(re.compile(r"/.*", re.DOTALL), "an absolute path"),
    # Where an empty value means "nowhere" (the agent's node folder: none, data stays in the pod).
    "absolute_path_or_empty": StringForm(re.compile(r"(?:/.*)?", re.DOTALL), "an absolute path, or empty"),
    # Go's time.ParseDuration, as the roles took it so far: whole numbers with units, no fraction or sign.
    "go_duration": StringForm(re.compile(r"(?:[0-9]+(?:ns|us|ms|s|m|h))+"), "a Go duration such as 168h or 1h30m"),
    # Prometheus' model.Duration (Mimir and Loki read theirs the same way).
    "prometheus_duration": StringForm(re.compile(r"(?:[0-9]+(?:ms|s|m|h|d|w|y))+"),
                                      "a Prometheus duration such as 15d, 1h30m or 0s"),
    # VictoriaLogs' retention: one number and one unit.
    "victorialogs_duration": StringForm(re.compile(r"[0-9]+[hdwy]"),
                                        "a number and one unit of h, d, w or y, such as 7d"),
    "version": StringForm(re.compile(r"[0-9]+\.[0-9]+\.[0-9]+.*", re.DOTALL),
                          "a version X.Y.Z, such as 3.7.8 (a suffix such as -rc.1 may follow)"),
    "exact_version": StringForm(re.compile(r"[0-9]+\.[0-9]+\.[0-9]+"), "a version X.Y.Z, such as 0.159.0"),
}
STRING_FORM_TYPES = ("str", "path")


@dataclass(frozen=True)
class Rule:
    """What one option's value must satisfy."""

    type: str
    int_range: Optional[IntRange] = None
    non_empty: bool = False
    users: bool = False
    mapping: bool = False
    form: Optional[StringForm] = None
    # The groups whose values (distinct) or ports (distinct_ports) must differ, by kind.
    groups: Tuple[Tuple[str, str], ...] = ()


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
    if isinstance(declared, Mapping) and (FORM in declared or any(key in declared for key in GROUP_KEYS)):
        return grouped_rule(name, option_type, option, declared)
    return form_rule(name, option_type, option, declared)


def form_rule(name: str, option_type: str, option: Mapping, declared: Any) -> Tuple[Optional[Rule], List[str]]:
    """The rule of a declaration by name or range alone (MISSING when none)."""
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
    if declared == MAPPING and option_type == "dict":
        return Rule(option_type, mapping=True), []
    if isinstance(declared, str) and declared in STRING_FORMS and option_type in STRING_FORM_TYPES:
        return Rule(option_type, form=STRING_FORMS[declared]), []
    return None, [f"{name}: {declared!r} does not apply to a {option_type} option"]


def grouped_rule(name: str, option_type: str, option: Mapping, declared: Mapping) -> Tuple[Optional[Rule], List[str]]:
    """The rule of a declaration that puts the option in groups: its form (or range) and the groups."""
    unknown = sorted(str(key) for key in declared if key not in (FORM, *GROUP_KEYS, *RANGE_KEYS))
    if unknown:
        return None, [f"{name}: unknown keys {unknown} (a declaration with a group has form or min/max, "
                      f"and distinct or distinct_ports)"]
    if FORM in declared and any(key in declared for key in RANGE_KEYS):
        return None, [f"{name}: a declaration has a form or a range (min, max), not both"]
    ranged = {key: declared[key] for key in RANGE_KEYS if key in declared}
    base = declared.get(FORM, ranged or MISSING)
    rule, problems = form_rule(name, option_type, option, base)
    if rule is None:
        return None, problems
    groups = []
    for kind in GROUP_KEYS:
        if kind not in declared:
            continue
        group = declared[kind]
        if not isinstance(group, str) or not group:
            return None, [f"{name}: {kind} names a group (a label), got {group!r}"]
        if kind == DISTINCT_PORTS and rule.form is not STRING_FORMS["host_port"] and rule.int_range != NAMED_RANGES["port"]:
            return None, [f"{name}: distinct_ports applies to a host_port or port option"]
        if kind == DISTINCT and option_type not in ("str", "path", "int"):
            return None, [f"{name}: distinct applies to a str, path or int option, not a {option_type} one"]
        groups.append((kind, group))
    return replace(rule, groups=tuple(groups)), []


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
    if rule.mapping and not isinstance(value, Mapping):
        # Not the value itself: a string may hold a secret.
        return f"{name} is {'empty' if value is None else 'a ' + type(value).__name__}: it must be a mapping"
    if rule.form is not None:
        if not isinstance(value, str):
            return f"{name} is {'empty' if value is None else 'a ' + type(value).__name__}: it must be {rule.form.describe}"
        if not rule.form.matches(value):
            return f"{name} is not {rule.form.describe}" if value.strip() else \
                f"{name} is empty or blank: it must be {rule.form.describe}"
        return None
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


def group_key(kind: str, rule: Rule, value: Any) -> Any:
    """What must differ within a group: the port (distinct_ports) or the value, an integer as a number."""
    if kind == DISTINCT_PORTS and isinstance(value, str):
        return int(value.rsplit(":", 1)[1])
    if rule.int_range is not None:
        return check_type_int(value)
    return value


def group_problems(checked: List[Tuple[str, Rule, Any]]) -> List[str]:
    """Each option whose value (or port) another option of its group already has, naming both."""
    problems = []
    seen: Dict[Tuple[str, str], List[Tuple[Any, str]]] = {}
    for name, rule, value in checked:
        for kind, group in rule.groups:
            key = group_key(kind, rule, value)
            earlier = [other for other_key, other in seen.get((kind, group), []) if other_key == key]
            if earlier and kind == DISTINCT_PORTS:
                problems.append(f"{name} has the port of {earlier[0]} ({key}): the {group} must use distinct ports")
            elif earlier:
                # An integer is shown; a string never is (it may be a secret).
                same = f" ({key})" if isinstance(key, int) else ""
                problems.append(f"{name} is the same as {earlier[0]}{same}: the {group} must differ")
            seen.setdefault((kind, group), []).append((key, name))
    return problems


def input_problems(values: Any, options: Any, declarations: Any) -> List[str]:
    """The problems of the given values (by option name; options not given are skipped), in spec order,
    then those of the groups (among values that passed their own rule)."""
    if not isinstance(values, Mapping):
        raise BoundsError([f"the values must be a mapping of option names, got {type(values).__name__}"])
    problems = []
    grouped: List[Tuple[str, Rule, Any]] = []
    for name, rule in option_rules(options, declarations).items():
        value = given_value(values, name)
        if value is MISSING:
            continue
        problem = value_problem(name, rule, value)
        if problem:
            problems.append(problem)
        elif rule.groups:
            grouped.append((name, rule, value))
    return problems + group_problems(grouped)
