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


FORMS_SPEC = {
    "x_listen": {"type": "str"},
    "x_dir": {"type": "path"},
    "x_node_dir": {"type": "path"},
    "x_retention": {"type": "str"},
    "x_window": {"type": "str"},
    "x_keep": {"type": "str"},
    "x_version": {"type": "str"},
    "x_exact_version": {"type": "str"},
    "x_overrides": {"type": "dict"},
}
FORMS = {
    "x_listen": "host_port",
    "x_dir": "absolute_path",
    "x_node_dir": "absolute_path_or_empty",
    "x_retention": "go_duration",
    "x_window": "prometheus_duration",
    "x_keep": "victorialogs_duration",
    "x_version": "version",
    "x_exact_version": "exact_version",
    "x_overrides": "mapping",
}


def form_problems(**values: Any) -> list:
    return input_problems(values, FORMS_SPEC, FORMS)


@pytest.mark.parametrize(("name", "value"), [
    ("x_listen", "0.0.0.0:4317"), ("x_listen", ":4317"), ("x_listen", "localhost:8080"), ("x_listen", "[::]:4317"),
    ("x_listen", "[::1]:99999"),
    ("x_dir", "/"), ("x_dir", "/var/lib/x"),
    ("x_node_dir", ""), ("x_node_dir", "/var/lib/x"),
    ("x_retention", "168h"), ("x_retention", "1h30m"), ("x_retention", "500ms"), ("x_retention", "0s"),
    ("x_window", "15d"), ("x_window", "0s"), ("x_window", "1y2w"), ("x_window", "30m"),
    ("x_keep", "7d"), ("x_keep", "1y"), ("x_keep", "12h"),
    ("x_version", "3.7.8"), ("x_version", "13.2.3-rc.1"),
    ("x_exact_version", "0.159.0"),
    ("x_overrides", {}), ("x_overrides", {"a": {"b": 1}}),
])
def test_a_value_of_its_form_has_no_problem(name: str, value: Any) -> None:
    assert form_problems(**{name: value}) == []


@pytest.mark.parametrize(("name", "value", "expected"), [
    ("x_listen", "0.0.0.0", "x_listen is not host:port, such as 0.0.0.0:4317 or [::1]:4317"),
    ("x_listen", "a b:4317", "x_listen is not host:port"),
    ("x_listen", "::1:4317", "x_listen is not host:port"),
    ("x_listen", "0.0.0.0:4317\n", "x_listen is not host:port"),
    ("x_listen", "0.0.0.0:123456", "x_listen is not host:port"),
    ("x_listen", "", "x_listen is empty or blank: it must be host:port"),
    ("x_listen", None, "x_listen is empty: it must be host:port"),
    ("x_listen", 4317, "x_listen is a int: it must be host:port"),
    ("x_dir", "var/lib/x", "x_dir is not an absolute path"),
    ("x_dir", "", "x_dir is empty or blank: it must be an absolute path"),
    ("x_node_dir", "var/lib/x", "x_node_dir is not an absolute path, or empty"),
    ("x_retention", "7d", "x_retention is not a Go duration such as 168h or 1h30m"),
    ("x_retention", "1.5h", "x_retention is not a Go duration"),
    ("x_retention", "168", "x_retention is not a Go duration"),
    ("x_window", "30 m", "x_window is not a Prometheus duration such as 15d, 1h30m or 0s"),
    ("x_window", "1ns", "x_window is not a Prometheus duration"),
    ("x_keep", "1d12h", "x_keep is not a number and one unit of h, d, w or y, such as 7d"),
    ("x_keep", "30m", "x_keep is not a number and one unit of h, d, w or y"),
    ("x_version", "latest", "x_version is not a version X.Y.Z, such as 3.7.8 (a suffix such as -rc.1 may follow)"),
    ("x_version", "3.7", "x_version is not a version X.Y.Z"),
    ("x_exact_version", "0.159.0-rc.1", "x_exact_version is not a version X.Y.Z, such as 0.159.0"),
    ("x_overrides", "a=1", "x_overrides is a str: it must be a mapping"),
    ("x_overrides", ["a"], "x_overrides is a list: it must be a mapping"),
    ("x_overrides", None, "x_overrides is empty: it must be a mapping"),
])
def test_a_value_not_of_its_form_is_named_with_the_form(name: str, value: Any, expected: str) -> None:
    found = form_problems(**{name: value})
    assert len(found) == 1 and found[0].startswith(expected), found


def test_a_string_not_of_its_form_is_never_repeated() -> None:
    secret = "s3cret=value"
    found = form_problems(x_listen=secret, x_dir=secret, x_retention=secret, x_version=secret, x_overrides=secret)
    assert len(found) == 5 and not any(secret in problem for problem in found)


GROUPS_SPEC = {
    "x_grpc": {"type": "str"},
    "x_http": {"type": "str"},
    "x_health": {"type": "str"},
    "x_config_dir": {"type": "path"},
    "x_data_dir": {"type": "path"},
    "x_http_port": {"type": "int"},
    "x_grpc_port": {"type": "int"},
    "x_otlp_grpc": {"type": "str"},
    "x_otlp_http": {"type": "str"},
}
GROUPS = {
    "x_grpc": {"form": "host_port", "distinct_ports": "listeners"},
    "x_http": {"form": "host_port", "distinct_ports": "listeners"},
    "x_health": {"form": "host_port", "distinct_ports": "listeners"},
    "x_config_dir": {"form": "absolute_path", "distinct": "directories"},
    "x_data_dir": {"form": "absolute_path", "distinct": "directories"},
    "x_http_port": {"form": "port", "distinct": "servers"},
    "x_grpc_port": {"min": 1, "max": 65535, "distinct": "servers"},
    "x_otlp_grpc": {"form": "host_port", "distinct": "OTLP receivers"},
    "x_otlp_http": {"form": "host_port", "distinct": "OTLP receivers"},
}
GROUPS_OK = {"x_grpc": "0.0.0.0:4317", "x_http": "0.0.0.0:4318", "x_health": "127.0.0.1:13133",
             "x_config_dir": "/etc/x", "x_data_dir": "/var/lib/x", "x_http_port": 3200, "x_grpc_port": 9095,
             "x_otlp_grpc": "0.0.0.0:4317", "x_otlp_http": "0.0.0.0:4318"}


def group_problems(**values: Any) -> list:
    return input_problems({**GROUPS_OK, **values}, GROUPS_SPEC, GROUPS)


def test_distinct_values_and_ports_have_no_problem() -> None:
    assert declaration_problems(GROUPS_SPEC, GROUPS) == []
    assert group_problems() == []
    # distinct compares whole values: another host on the same port is another receiver.
    assert group_problems(x_otlp_http="127.0.0.1:4317") == []


@pytest.mark.parametrize(("values", "expected"), [
    ({"x_health": "127.0.0.1:4318"},
     ["x_health has the port of x_http (4318): the listeners must use distinct ports"]),
    ({"x_http": "[::1]:4317", "x_health": ":4317"},
     ["x_http has the port of x_grpc (4317): the listeners must use distinct ports",
      "x_health has the port of x_grpc (4317): the listeners must use distinct ports"]),
    ({"x_data_dir": "/etc/x"}, ["x_data_dir is the same as x_config_dir: the directories must differ"]),
    # Integers compare as numbers, as given in extra vars or not.
    ({"x_grpc_port": "3200"}, ["x_grpc_port is the same as x_http_port (3200): the servers must differ"]),
    ({"x_otlp_http": "0.0.0.0:4317"}, ["x_otlp_http is the same as x_otlp_grpc: the OTLP receivers must differ"]),
])
def test_a_clash_within_a_group_names_both_options(values: dict, expected: list) -> None:
    assert group_problems(**values) == expected


def test_a_value_outside_its_form_is_not_compared_within_its_group() -> None:
    assert group_problems(x_http="4317", x_data_dir="etc/x") == [
        "x_http is not host:port, such as 0.0.0.0:4317 or [::1]:4317 (an empty host listens on every interface)",
        "x_data_dir is not an absolute path",
    ]


def test_a_group_member_not_given_is_not_compared() -> None:
    assert input_problems({"x_grpc": "0.0.0.0:4317"}, GROUPS_SPEC, GROUPS) == []


@pytest.mark.parametrize(("spec", "declaration", "expected"), [
    ({"type": "dict"}, "host_port", "x_opt: 'host_port' does not apply to a dict option"),
    ({"type": "int"}, "absolute_path", "x_opt: an int option needs a range (port or {min, max}), got 'absolute_path'"),
    ({"type": "str"}, "mapping", "x_opt: 'mapping' does not apply to a str option"),
    ({"type": "str"}, "iso_date", "x_opt: 'iso_date' does not apply to a str option"),
    ({"type": "str"}, {"form": "host_port", "distinct": "a", "unique": True}, "x_opt: unknown keys ['unique']"),
    ({"type": "int"}, {"form": "port", "min": 1, "distinct": "a"},
     "x_opt: a declaration has a form or a range (min, max), not both"),
    ({"type": "str"}, {"form": "go_duration", "distinct_ports": "a"},
     "x_opt: distinct_ports applies to a host_port or port option"),
    ({"type": "int"}, {"min": 1, "distinct_ports": "a"}, "x_opt: distinct_ports applies to a host_port or port option"),
    ({"type": "dict"}, {"form": "mapping", "distinct": "a"}, "x_opt: distinct applies to a str, path or int option"),
    ({"type": "str"}, {"form": "host_port", "distinct": ["a"]}, "x_opt: distinct names a group (a label), got ['a']"),
    ({"type": "int"}, {"distinct": "a"}, "x_opt: an int option needs a declared range"),
    ({"type": "str"}, {"form": "port", "distinct": "a"}, "x_opt: 'port' does not apply to a str option"),
])
def test_a_form_or_group_that_does_not_fit_the_option_is_refused(spec: dict, declaration: Any, expected: str) -> None:
    found = declaration_problems({"x_opt": spec}, {"x_opt": declaration})
    assert len(found) == 1 and found[0].startswith(expected), found


def test_a_group_without_a_form_keeps_the_rules_by_type() -> None:
    spec = {"x_a": {"type": "str"}, "x_b": {"type": "str"}}
    declarations = {"x_a": {"distinct": "names"}, "x_b": {"distinct": "names"}}
    assert input_problems({"x_a": "", "x_b": "b"}, spec, declarations) == [
        "x_a is empty or blank: it must be a non-empty string"]
    assert input_problems({"x_a": "b", "x_b": "b"}, spec, declarations) == [
        "x_b is the same as x_a: the names must differ"]
