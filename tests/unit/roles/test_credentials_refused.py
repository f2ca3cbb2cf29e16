"""A backend that checks passwords refuses them without TLS, before any change.

Prometheus, Jaeger and VictoriaLogs take users (<role>_basic_auth_users, by
default the collection-wide lgtm_<signal>_basic_auth). The shared lifecycle
refuses a component's users without TLS before it downloads anything
(roles/common/tasks/tls_inputs.yml), naming the role's variable and never a
password; VictoriaLogs, which checks one user, refuses a second in its
preflight, and Jaeger refuses users at a release without its basicauth extension (2.12.0,
the pinned one) in its preflight. (An empty password or a username with ':' is refused by every
role's input bounds: test_input_bounds_refuse_bad_input.py.) All cases run as the real roles, in check mode, in one
ansible-playbook run (one inventory host per case).
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Dict, NamedTuple, Tuple

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from role_runs import Results, run_roles_in_check_mode  # noqa: E402

pytest.importorskip("ansible")

SECRET = "never-shown-5f1c"
GENERATED_CA = {"lgtm_tls": True, "lgtm_tls_generate_ca": True, "lgtm_tls_ca_dir": "/nonexistent/lgtm-ca"}
LIFECYCLE_CHECK = "Assert that passwords travel only over TLS to {name}"
JAEGER_RELEASE_CHECK = "Assert that this Jaeger release can check the basic-auth users"
JAEGER_RELEASE_MESSAGE = "jaeger_basic_auth_users: Jaeger 2.12.0 has no basicauth extension (Jaeger ships it from 2.13.0 on)"


class Case(NamedTuple):
    role: str
    host_vars: Dict[str, Any]
    failing_task: str
    message: str


CASES = {
    "prometheus-no-tls": Case("prometheus", {"lgtm_metrics_basic_auth": {"username": "collector", "password": SECRET}},
                              LIFECYCLE_CHECK.format(name="prometheus"), "prometheus_basic_auth_users makes prometheus "
                              "check passwords, so it needs TLS (lgtm_tls: true): a password sent over plain HTTP is "
                              "as good as published."),
    # Jaeger's pinned release (2.12.0) has no basicauth extension: its preflight refuses users first,
    # with TLS or without (the lifecycle's TLS rule is the one proven for the other two).
    "jaeger-no-tls": Case("jaeger", {"lgtm_traces_basic_auth": {"username": "collector", "password": SECRET}},
                          JAEGER_RELEASE_CHECK, JAEGER_RELEASE_MESSAGE),
    "jaeger-tls": Case("jaeger", {**GENERATED_CA, "lgtm_traces_basic_auth": {"username": "collector", "password": SECRET}},
                       JAEGER_RELEASE_CHECK, JAEGER_RELEASE_MESSAGE),
    "victorialogs-no-tls": Case("victorialogs", {"victorialogs_basic_auth_users": {"collector": SECRET}},
                                LIFECYCLE_CHECK.format(name="victorialogs"),
                                "victorialogs_basic_auth_users makes victorialogs check passwords"),
    "victorialogs-two-users": Case("victorialogs", {**GENERATED_CA,
                                                    "victorialogs_basic_auth_users": {"a": SECRET, "b": SECRET}},
                                   "Assert that the VictoriaLogs settings are consistent",
                                   "victorialogs_basic_auth_users holds at most one user"),
}


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> Tuple[Results, str]:
    """Every case's task results, in order, and the run's whole output (at -vvv)."""
    hosts: Dict[str, Dict[str, Dict[str, Any]]] = {role: {} for role in sorted({case.role for case in CASES.values()})}
    for name, case in CASES.items():
        hosts[case.role][name] = case.host_vars
    return run_roles_in_check_mode(tmp_path_factory.mktemp("credentials"), hosts, "Credentials to", verbose=True)


@pytest.mark.parametrize("name", CASES)
def test_refused_before_any_change_naming_the_variable(outcomes, name):
    case, results = CASES[name], outcomes[0].get(name)
    assert results, f"{name}: the host ran no task"
    failed = [index for index, outcome in enumerate(results) if outcome.get("failed")]
    assert failed, f"{name} was accepted: {[outcome['task'] for outcome in results]}"
    refusal = results[failed[0]]
    assert refusal["task"].endswith(case.failing_task), refusal
    assert not [outcome["task"] for outcome in results[:failed[0] + 1] if outcome.get("changed")]
    # A looped assert reports each item's message in its results.
    messages = [refusal.get("msg", "")] + [item.get("msg", "") for item in refusal.get("results", [])]
    assert any(case.message in message for message in messages), messages


def test_no_password_is_printed_even_at_vvv(outcomes):
    assert SECRET not in outcomes[1]
