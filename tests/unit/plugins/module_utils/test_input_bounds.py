# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The bounds an argument spec cannot express: the rules by type, the declarations, the messages."""

from __future__ import annotations

from typing import Any

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.observability.lgtm.plugins.filter.input_bounds_problems import input_bounds_problems
from ansible_collections.observability.lgtm.plugins.module_utils.input_bounds import (
    BoundsError,
    declaration_problems,
    input_problems,
    spec_options,
)

OPTIONS = {
    "x_dir": {"type": "path"},
    "x_name": {"type": "str"},
    "x_untyped": {},
    "x_level": {"type": "str", "choices": ["info", "debug"]},
    "x_context": {"type": "str"},
    "x_port": {"type": "int"},
    "x_timeout": {"type": "int"},
    "x_limit": {"type": "int"},
    "x_cap": {"type": "int"},
    "x_flag": {"type": "bool"},
    "x_items": {"type": "list", "elements": "str"},
    "x_groups": {"type": "dict"},
    "x_extra": {"type": "dict"},
    "x_component": {"type": "dict", "options": {
        "name": {"type": "str", "required": True},
        "strip": {"type": "int"},
        "url": {"type": "str"},
    }},
}
DECLARATIONS = {
    "x_context": "may_be_empty",
    "x_port": "port",
    "x_timeout": {"min": 5, "max": 90},
    "x_limit": {"min": 0},
    "x_cap": {"max": 10},
    "x_groups": "non_empty",
    "x_component.strip": {"min": 0},
    "x_component.url": "may_be_empty",
}


def problems(**values: Any) -> list:
    return input_problems(values, OPTIONS, DECLARATIONS)


def test_sub_options_are_walked_with_dotted_names() -> None:
    names = list(dict(spec_options(OPTIONS)))
    assert names[-4:] == ["x_component", "x_component.name", "x_component.strip", "x_component.url"]


def test_values_within_bounds_and_options_not_given_have_no_problem() -> None:
    assert problems() == []
    assert problems(x_dir="/etc/x", x_name="x", x_untyped="y", x_context="", x_port=1, x_timeout=90, x_limit=0,
                    x_cap=-3, x_flag=False, x_items=[], x_groups={"a": "b"}, x_extra={},
                    x_component={"name": "x", "strip": 0, "url": ""}) == []
    # The argument spec accepts an integer given as a string (extra vars are strings); so do the bounds.
    assert problems(x_port="65535", x_timeout=" 5 ", x_limit=7.0) == []


@pytest.mark.parametrize(("values", "expected"), [
    ({"x_dir": ""}, "x_dir is empty or blank: it must be a non-empty path"),
    ({"x_dir": None}, "x_dir is empty or blank: it must be a non-empty path"),
    ({"x_name": " \t\n"}, "x_name is empty or blank: it must be a non-empty string"),
    ({"x_untyped": ""}, "x_untyped is empty or blank: it must be a non-empty string"),
    ({"x_name": []}, "x_name is empty or blank: it must be a non-empty string"),
    ({"x_port": 0}, "x_port is 0: it must be an integer from 1 to 65535 (a TCP port)"),
    ({"x_port": 65536}, "x_port is 65536: it must be an integer from 1 to 65535 (a TCP port)"),
    ({"x_port": "-1"}, "x_port is -1: it must be an integer from 1 to 65535 (a TCP port)"),
    ({"x_timeout": 4}, "x_timeout is 4: it must be an integer from 5 to 90"),
    ({"x_timeout": 91}, "x_timeout is 91: it must be an integer from 5 to 90"),
    ({"x_limit": -1}, "x_limit is -1: it must be an integer of at least 0"),
    ({"x_cap": 11}, "x_cap is 11: it must be an integer of at most 10"),
    ({"x_port": None}, "x_port is empty: it must be an integer from 1 to 65535 (a TCP port)"),
    ({"x_port": "web"}, "x_port is a str, not an integer: it must be an integer from 1 to 65535 (a TCP port)"),
    ({"x_port": 80.5}, "x_port is a float, not an integer: it must be an integer from 1 to 65535 (a TCP port)"),
    ({"x_port": True}, "x_port is a bool, not an integer: it must be an integer from 1 to 65535 (a TCP port)"),
    ({"x_groups": {}}, "x_groups is empty: it must hold at least one item"),
    ({"x_groups": None}, "x_groups is empty: it must hold at least one item"),
    ({"x_component": {"name": ""}}, "x_component.name is empty or blank: it must be a non-empty string"),
    ({"x_component": {"name": "x", "strip": -1}}, "x_component.strip is -1: it must be an integer of at least 0"),
])
def test_a_value_out_of_bounds_is_named_with_what_is_allowed(values: dict, expected: str) -> None:
    assert problems(**values) == [expected]


def test_options_with_choices_are_left_to_the_argument_spec() -> None:
    assert problems(x_level="") == []


def test_lists_and_dicts_may_be_empty_unless_declared_non_empty() -> None:
    assert problems(x_items=[], x_extra={}) == []


def test_a_sub_option_is_checked_only_inside_a_mapping() -> None:
    # A parent of the wrong type is the argument spec's to refuse.
    assert problems(x_component="not-a-mapping") == []


def test_every_problem_is_reported_in_spec_order() -> None:
    assert problems(x_component={"name": ""}, x_port=0, x_dir="") == [
        "x_dir is empty or blank: it must be a non-empty path",
        "x_port is 0: it must be an integer from 1 to 65535 (a TCP port)",
        "x_component.name is empty or blank: it must be a non-empty string",
    ]


def test_a_string_value_is_never_repeated() -> None:
    secret = "s3cret-but-blank-looking"
    assert all(secret not in problem for problem in problems(x_port=secret, x_dir=""))


def test_an_int_option_without_a_declared_range_is_refused() -> None:
    declarations = {key: value for key, value in DECLARATIONS.items() if key != "x_limit"}
    assert declaration_problems(OPTIONS, declarations) == [
        "x_limit: an int option needs a declared range (port or {min, max})"]
    with pytest.raises(BoundsError, match="x_limit: an int option needs a declared range"):
        input_problems({}, OPTIONS, declarations)


def test_an_int_sub_option_without_a_declared_range_is_refused() -> None:
    declarations = {key: value for key, value in DECLARATIONS.items() if key != "x_component.strip"}
    assert declaration_problems(OPTIONS, declarations) == [
        "x_component.strip: an int option needs a declared range (port or {min, max})"]


@pytest.mark.parametrize(("declaration", "expected"), [
    ({"x_nope": "port"}, "x_nope: no such option in the argument spec"),
    ({"x_component.nope": "may_be_empty"}, "x_component.nope: no such option in the argument spec"),
    ({"x_port": "tcp"}, "x_port: an int option needs a range (port or {min, max}), got 'tcp'"),
    ({"x_port": {"min": 1, "top": 2}}, "x_port: unknown keys ['top']"),
    ({"x_port": {}}, "x_port: a range needs min, max or both"),
    ({"x_port": {"min": "1"}}, "x_port: min must be an integer, got '1'"),
    ({"x_port": {"min": True}}, "x_port: min must be an integer, got True"),
    ({"x_port": {"min": 9, "max": 1}}, "x_port: min 9 is above max 1"),
    ({"x_port": ["port"]}, "x_port: a declaration must be a name or a mapping, got list"),
    ({"x_port": "may_be_empty"}, "x_port: an int option needs a range (port or {min, max}), got 'may_be_empty'"),
    ({"x_dir": "port"}, "x_dir: 'port' does not apply to a path option"),
    ({"x_dir": "non_empty"}, "x_dir: 'non_empty' does not apply to a path option"),
    ({"x_flag": "may_be_empty"}, "x_flag: 'may_be_empty' does not apply to a bool option"),
    ({"x_items": {"min": 1}}, "x_items: {'min': 1} does not apply to a list option"),
])
def test_a_declaration_that_does_not_fit_the_spec_is_refused(declaration: dict, expected: str) -> None:
    found = declaration_problems(OPTIONS, {**DECLARATIONS, **declaration})
    assert len(found) == 1 and found[0].startswith(expected), found


def test_the_declarations_and_values_must_be_mappings() -> None:
    assert declaration_problems(OPTIONS, ["x_port"]) == ["the declarations must be a mapping of option names, got list"]
    with pytest.raises(BoundsError, match="the values must be a mapping"):
        input_problems(["x_port"], OPTIONS, DECLARATIONS)
    # An empty declarations file reads as None: nothing declared.
    assert declaration_problems({"x_dir": {"type": "path"}}, None) == []


def test_the_filter_returns_the_problems_and_turns_bad_declarations_into_a_filter_error() -> None:
    assert input_bounds_problems({"x_port": 0}, OPTIONS, DECLARATIONS) == [
        "x_port is 0: it must be an integer from 1 to 65535 (a TCP port)"]
    with pytest.raises(AnsibleFilterError, match="input_bounds_problems: the declared bounds do not fit the argument "
                                                 "spec: x_port: an int option needs a declared range"):
        input_bounds_problems({}, OPTIONS, {})
    with pytest.raises(AnsibleFilterError, match=r"input_bounds_problems: internal error \(RuntimeError: boom\)"):
        input_bounds_problems(Unreadable(x_port=1), OPTIONS, DECLARATIONS)


class Unreadable(dict):
    """Values whose lookup fails: a bug must still come out as a filter error, not a traceback."""

    def __contains__(self, key: object) -> bool:
        raise RuntimeError("boom")


USERS_SPEC = {"app_users": {"type": "dict"}}


@pytest.mark.parametrize(("value", "problem"), [
    ({}, None),
    ({"collector": "s3cret", "grafana": "other"}, None),
    ({"collector": ""}, "app_users has users without a password (collector): each needs a non-empty string"),
    ({"collector": None, "b": 5}, "app_users has users without a password (collector, b): each needs a non-empty string"),
    ({"a:b": "s3cret"}, "app_users has usernames ['a:b']: each must be a non-empty string without ':'"),
    ({" ": "s3cret"}, "app_users has usernames [' ']: each must be a non-empty string without ':'"),
    (["collector"], "app_users is a list: it must map usernames to passwords"),
])
def test_users_need_names_without_colons_and_passwords_and_never_show_one(value, problem):
    problems = input_problems({"app_users": value}, USERS_SPEC, {"app_users": "users"})
    assert problems == ([problem] if problem else [])
    assert not any("s3cret" in item for item in problems)


def test_users_applies_to_dict_options_only():
    assert declaration_problems({"name": {"type": "str"}}, {"name": "users"}) == [
        "name: 'users' does not apply to a str option"]
