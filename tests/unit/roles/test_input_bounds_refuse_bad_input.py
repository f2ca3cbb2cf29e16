"""Every role refuses an empty or out-of-range value of each of its variables, before any change, naming it.

An argument spec cannot say "not empty" or "from 1 to 65535": each role declares
that in meta/input_bounds.yml and, as its first task, has the common role check
its variables against it (roles/common/tasks/input_bounds.yml). The cases are
generated from every role's meta/argument_specs.yml and declarations, so a
variable added later is covered without a new test: for each str or path option
without choices and not declared may_be_empty an empty string, for each int
option a value below its minimum and one above its maximum, for each list or
dict declared non_empty an empty one, for each dict of users a user without a
password and a username with ':', for each option of a string form (host_port,
absolute_path, a duration, a version) an empty string (unless the form allows it) and one of no form, for
each dict declared mapping a string (which the argument spec converts to a
dict, but the role would get as it is), and for each option of a group
(distinct or distinct_ports) the default of another option of the group, so
that the two clash; an int option without a declared range fails
test_declarations_fit_the_argument_spec.

All cases run as the real roles in one ansible-playbook run, in check mode: one
inventory host per case with the bad value as a host variable, one play per
role. Each host must fail at the bounds check with no task before it changed,
and with a message that names its variable and no other variable of the role
or of the lifecycle (so the defaults themselves are within bounds), except,
for a clash within a group, the option it clashes with, which it must name too.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any, Dict, List, NamedTuple, Tuple

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from argument_specs import REPO, ROLES, declared_bounds, entry_points  # noqa: E402
from role_runs import Results, run_roles_in_check_mode  # noqa: E402

pytest.importorskip("ansible")

from ansible_collections.observability.lgtm.plugins.module_utils.input_bounds import (  # noqa: E402
    declaration_problems,
    option_rules,
    spec_options,
)

CHECK_TASK = "observability.lgtm.common : Check the role variables against their declared bounds"
# A valid description for the common role run on its own; a case of a sub-option replaces one key.
COMMON_COMPONENT = {
    "name": "lgtm-bounds-probe", "version": "1.0.0", "state": "present",
    "artifact_url": "http://127.0.0.1:9/lgtm-bounds-probe.tar.gz", "checksum_url": "http://127.0.0.1:9/SHA256SUMS",
    "archive": "tar.gz", "archive_strip": 0, "config_dir": "/etc/lgtm-bounds-probe", "readiness_url": "",
}
BASE_VALUES = {"common_component": COMMON_COMPONENT}
EMPTY = {"str": "", "path": "", "list": [], "dict": {}}
# Of no string form: a blank, no colon, no leading slash, no unit, no dots.
NO_FORM = "no form"
# What the argument spec turns into a dict {"a": "1"} and lets through.
NOT_A_MAPPING = "a=1"


class Case(NamedTuple):
    role: str
    variable: str       # what the host sets
    value: Any
    named: str          # the option the message must name
    label: str
    clashes_with: Tuple[str, ...] = ()  # the options of its group the message must name too


def options_of(role: Path) -> Dict[str, Any]:
    return dict(entry_points(role))["main"]


def role_defaults(role: Path) -> Dict[str, Any]:
    defaults = role / "defaults" / "main.yml"
    return (yaml.safe_load(defaults.read_text()) or {}) if defaults.exists() else {}


def group_cases(role: Path, rules: Dict[str, Any]) -> List[Case]:
    """For each option of a group, the default of the group's next option: a clash naming both."""
    defaults = role_defaults(role)
    members: Dict[Tuple[str, str], List[str]] = {}
    for name, rule in rules.items():
        for kind_and_group in rule.groups:
            members.setdefault(kind_and_group, []).append(name)
    generated = []
    for (kind, _group), names in members.items():
        assert len(names) > 1, f"{role.name}: a group of one option, {names}"
        for index, name in enumerate(names):
            other = names[(index + 1) % len(names)]
            label = "same-port" if kind == "distinct_ports" else "same-value"
            generated.append(Case(role.name, name, defaults[other], name, label, (other,)))
    return generated


def role_cases(role: Path) -> List[Case]:
    generated = []
    rules = option_rules(options_of(role), declared_bounds(role))
    for name, rule in rules.items():
        bad = []
        if rule.int_range is not None:
            if rule.int_range.minimum is not None:
                bad.append((rule.int_range.minimum - 1, "below"))
            if rule.int_range.maximum is not None:
                bad.append((rule.int_range.maximum + 1, "above"))
        elif rule.users:
            bad.append(({"collector": ""}, "no-password"))
            bad.append(({"a:b": "password"}, "bad-username"))
        elif rule.form is not None:
            if not rule.form.matches(""):
                bad.append(("", "empty"))
            bad.append((NO_FORM, "bad-form"))
        elif rule.mapping:
            bad.append((NOT_A_MAPPING, "not-a-mapping"))
        elif rule.non_empty:
            bad.append((EMPTY[rule.type], "empty"))
        for value, label in bad:
            variable, dot, key = name.partition(".")
            if dot:
                assert variable in BASE_VALUES, f"{role.name}: add a valid {variable} to BASE_VALUES for {name}"
                value = {**BASE_VALUES[variable], key: value}
            generated.append(Case(role.name, variable, value, name, label))
    return generated + group_cases(role, rules)


CASES = [case for role in ROLES for case in role_cases(role)]
# The lifecycle's variables come from the collection-wide ones, which users set: through any role.
COLLECTION_WIDE_CASES = [
    Case("jaeger", "lgtm_readiness_retries", 0, "common_readiness_retries", "collection-wide"),
    Case("wiring", "lgtm_rollout_timeout", 0, "common_rollout_timeout", "collection-wide"),
]
ALL_CASES = CASES + COLLECTION_WIDE_CASES


@pytest.mark.parametrize("role", ROLES, ids=[role.name for role in ROLES])
def test_declarations_fit_the_argument_spec(role: Path):
    # Also where a new int option without a declared range fails.
    assert (role / "meta" / "input_bounds.yml").exists(), f"{role.name}: meta/input_bounds.yml is missing"
    assert declaration_problems(options_of(role), declared_bounds(role)) == []


def test_cases_cover_every_role_and_every_kind_of_bound():
    # Guards against a spec or declaration change that silently generates nothing.
    assert len(CASES) >= 140
    assert {case.role for case in CASES} == {role.name for role in ROLES}
    assert {case.label for case in CASES} == {"empty", "below", "above", "no-password", "bad-username", "bad-form",
                                              "not-a-mapping", "same-port", "same-value"}
    assert any("." in case.named for case in CASES)


def host_name(index: int, case: Case) -> str:
    return f"{case.role}-{index}"


@pytest.fixture(scope="module")
def refusals(tmp_path_factory: pytest.TempPathFactory) -> Results:
    """Run every case; each host's task results, in order."""
    hosts: Dict[str, Dict[str, Dict[str, Any]]] = {role.name: {} for role in ROLES}
    for index, case in enumerate(ALL_CASES):
        hosts[case.role][host_name(index, case)] = {case.variable: case.value}
    results, _output = run_roles_in_check_mode(tmp_path_factory.mktemp("input-bounds"), hosts, "Bad input to",
                                               {"common": {"common_component": COMMON_COMPONENT}}, forks=4)
    return results


def names_in(message: str, names: List[str]) -> List[str]:
    return [name for name in names if re.search(rf"(?<![\w.]){re.escape(name)}(?![\w.])", message)]


@pytest.mark.parametrize("index", range(len(ALL_CASES)),
                         ids=[f"{case.role}-{case.named}-{case.label}" for case in ALL_CASES])
def test_bad_value_fails_before_any_change_naming_the_variable(refusals: Dict[str, List[Dict[str, Any]]], index: int):
    case = ALL_CASES[index]
    outcomes = refusals.get(host_name(index, case))
    assert outcomes, f"{case.named}={case.value!r}: the host ran no task"
    failed = [position for position, outcome in enumerate(outcomes) if outcome.get("failed")]
    assert failed, f"{case.named}={case.value!r} was accepted: {[outcome['task'] for outcome in outcomes]}"
    before, refusal = outcomes[:failed[0]], outcomes[failed[0]]
    assert refusal["task"] == CHECK_TASK, f"{case.named}={case.value!r} failed elsewhere: {refusal}"
    assert not [outcome["task"] for outcome in before + [refusal] if outcome.get("changed")]
    message = refusal["msg"]
    assert names_in(message, [case.named, *case.clashes_with]) == [case.named, *case.clashes_with], message
    others = {name for role in (case.role, "common") for name in dict(spec_options(options_of(REPO / "roles" / role)))}
    assert names_in(message, sorted(others - {case.named, *case.clashes_with})) == [], message
    if case.label == "collection-wide":
        assert "collection-wide lgtm_<name>" in message, message
