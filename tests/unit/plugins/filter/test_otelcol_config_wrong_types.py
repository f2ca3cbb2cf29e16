# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Wrong types anywhere in a spec give an Ansible error naming a path, never "internal error".

The specs are the generated valid specs of the property tests plus a rich spec
that uses every section (the documented full example with connectors, tail
sampling, transform/resource/attributes processors and overrides of every kind).
One value at a time is replaced by a wrong one, at every path of the spec.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Tuple

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible.errors import AnsibleFilterError

import ansible_collections.observability.lgtm.plugins.filter.otelcol_config as filter_module
from ansible_collections.observability.lgtm.plugins.filter.otelcol_config import otelcol_config, otelcol_gomemlimit
from ansible_collections.observability.lgtm.plugins.filter.otelcol_kubernetes_needs import otelcol_kubernetes_needs

from test_otelcol_config_kubernetes import documented_spec
from test_otelcol_config_properties import agent_specs, specs

DOCS = Path(__file__).resolve().parents[4] / "docs" / "otelcol_config.md"
PROBLEM_LINE = re.compile(r"^  - (spec|config|version \(filter argument\))([.\[:]|$)")
PathKey = Tuple[Any, ...]


def rich_spec() -> Dict[str, Any]:
    """The documented full example, extended so that every section and option is present."""
    block = re.search(r"## Full example\n\n```yaml\n(.*?)```", DOCS.read_text(encoding="utf-8"), re.S)
    assert block is not None
    spec = yaml.safe_load(block.group(1))["otelcol_spec"]
    spec["connectors"]["servicegraph"] = {"dimensions": ["http.route"], "store_ttl": "2s", "store_max_items": 10}
    spec["connectors"]["spanmetrics"]["metrics_flush_interval"] = "15s"
    spec["pipelines"]["traces/sampled"]["sampling"] = {"tail": {"decision_wait": "5s", "num_traces": 100, "policies": [
        {"name": "errors", "type": "status_code", "status_code": {"status_codes": ["ERROR"]}}]}}
    spec["backends"]["tempo"].update(tls={"ca_file": "/ca.pem", "server_name": "tempo"}, headers={"X-A": "b"},
                                     auth={"username": "u", "password": "p"}, queue_size=10, timeout="5s",
                                     persistent=False)
    spec["processors"]["transform/x"] = {"metric_statements": [
        {"context": "datapoint", "statements": ['set(attributes["env"], "lab")']}]}
    spec["processors"]["resource/x"] = {"attributes": [{"key": "team", "value": "a", "action": "upsert"}]}
    spec["processors"]["attributes/m"] = {"actions": [
        {"key": "team", "value": "b", "action": "upsert"},
        {"key": "http.route", "pattern": "^/(?P<area>[a-z]+)/", "action": "extract"}]}
    spec["pipelines"]["metrics"]["extra_processors"] = ["transform/x", "resource/x", "attributes/m"]
    spec["overrides"].update(
        service={"extensions": ["health_check", "pprof", "file_storage/queue", "basicauth/tempo"],
                 "pipelines": {"traces": {"processors": ["memory_limiter", "resource", "attributes/scrub"]}}},
        extensions={"pprof": {"endpoint": "127.0.0.1:1777"}},
        processors={"memory_limiter": {"limit_mib": 1000}},
        receivers={"otlp": {"protocols": {"grpc": {"endpoint": "0.0.0.0:4317"}}}},
        connectors={"forward/sampled": {}},
    )
    return spec


def all_paths(value: Any, prefix: PathKey = ()) -> Iterator[PathKey]:
    """Every path into the spec: each mapping key and each list index, depth first."""
    if prefix:
        yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from all_paths(item, prefix + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from all_paths(item, prefix + (index,))


def replaced(spec: Dict[str, Any], path: PathKey, value: Any) -> Dict[str, Any]:
    changed = copy.deepcopy(spec)
    target = changed
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return changed


def assert_clean_outcome(spec: Any, *args: Any, filter_function: Callable[..., Any] = otelcol_config) -> None:
    """The spec renders, or fails with problems that each start with a path; never an internal error."""
    try:
        filter_function(spec, *args)
    except AnsibleFilterError as error:
        message = str(error)
        assert "internal error" not in message, message
        lines = message.splitlines()
        assert re.match(rf"^{filter_function.__name__}: \d+ problem\(s\) in the spec:$", lines[0]), message
        for line in lines[1:]:
            assert PROBLEM_LINE.match(line), f"problem without a path: {line!r}\n{message}"


WRONG_VALUES: List[Any] = [None, 0, -1, 2 ** 40, 1.5, True, "", "x", "1s\n", [], [1], [[1]], {}, {"a": 1}, {1: 2},
                           {"a": None}, {"a": [1]}]

junk = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=6),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.one_of(st.text(max_size=6), st.integers()), children, max_size=3),
    max_leaves=6,
)


def test_rich_spec_renders() -> None:
    otelcol_config(rich_spec())


@pytest.mark.parametrize("wrong", WRONG_VALUES, ids=repr)
def test_every_path_of_the_rich_spec_with_a_wrong_value(wrong: Any) -> None:
    spec = rich_spec()
    for path in list(all_paths(spec)):
        assert_clean_outcome(replaced(spec, path, wrong))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), value=junk)
def test_generated_wrong_types_name_a_path(data: Any, value: Any) -> None:
    spec = data.draw(st.one_of(specs(), st.just(rich_spec())))
    path = data.draw(st.sampled_from(list(all_paths(spec))))
    assert_clean_outcome(replaced(spec, path, value))


@settings(max_examples=100, deadline=None)
@given(spec=junk, version=st.one_of(st.none(), junk))
def test_junk_specs_and_versions_name_a_path(spec: Any, version: Any) -> None:
    assert_clean_outcome(spec, version)
    try:
        otelcol_gomemlimit(spec)
    except AnsibleFilterError as error:
        assert "internal error" not in str(error)


def test_the_last_guard_still_turns_a_bug_into_an_ansible_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """The catch-all stays as a last guard only: a bug (simulated here) must not surface as a traceback."""
    def broken(_spec: Any) -> Dict[str, Any]:
        raise KeyError("simulated bug")

    monkeypatch.setattr(filter_module, "render", broken)
    with pytest.raises(AnsibleFilterError, match=r"otelcol_config: internal error \(KeyError: 'simulated bug'\)"):
        otelcol_config(rich_spec())


@pytest.mark.parametrize("wrong", WRONG_VALUES, ids=repr)
def test_every_path_of_the_kubernetes_examples_with_a_wrong_value(wrong: Any) -> None:
    for spec in (documented_spec("otelcol_agent_spec"), documented_spec("otelcol_gateway_spec")):
        for path in list(all_paths(spec)):
            assert_clean_outcome(replaced(spec, path, wrong))
            assert_clean_outcome(replaced(spec, path, wrong), filter_function=otelcol_kubernetes_needs)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), value=junk)
def test_generated_wrong_types_in_agent_specs_name_a_path(data: Any, value: Any) -> None:
    spec = data.draw(agent_specs())
    path = data.draw(st.sampled_from(list(all_paths(spec))))
    assert_clean_outcome(replaced(spec, path, value))
    assert_clean_outcome(replaced(spec, path, value), filter_function=otelcol_kubernetes_needs)


@settings(max_examples=100, deadline=None)
@given(spec=junk)
def test_junk_specs_give_the_needs_filter_a_path(spec: Any) -> None:
    assert_clean_outcome(spec, filter_function=otelcol_kubernetes_needs)
    assert_clean_outcome({"kubernetes": spec}, filter_function=otelcol_kubernetes_needs)
