"""lab/dashboards.py: the dashboards the collection ships are what it writes, and each query says whose
data it reads. (The stack scenarios run every query against the real backend it is written for:
tests/molecule/stack/test_stack.py, test_every_dashboard_query_of_this_stack_returns_data.)"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "lab"))
import dashboards  # noqa: E402  (lab/ is not a package)


@pytest.mark.parametrize("dashboard", dashboards.DASHBOARDS, ids=lambda dashboard: dashboard.uid)
def test_the_shipped_file_is_what_the_generator_writes(dashboard):
    shipped = dashboard.file.read_text(encoding="utf-8")
    assert shipped == dashboards.render(dashboard), (
        f"{dashboard.file.relative_to(REPO)} differs from lab/dashboards.py: run `make dashboards`")


def test_site_ships_every_generated_dashboard_under_its_uid():
    stack_vars = (REPO / "playbooks" / "vars" / "stack.yml").read_text(encoding="utf-8")
    for dashboard in dashboards.DASHBOARDS:
        assert f"uid: {dashboard.uid}" in stack_vars and f"dashboards/{dashboard.file_name}" in stack_vars, dashboard
        model = json.loads(dashboard.file.read_text(encoding="utf-8"))
        assert model["uid"] == dashboard.uid and model["title"] == dashboard.title


def test_every_query_reads_its_dashboards_data_source_and_names_its_sources():
    assert dashboards.unknown_sources() == []
    for dashboard in dashboards.DASHBOARDS:
        model = json.loads(dashboard.file.read_text(encoding="utf-8"))
        own = {"type": dashboard.source.type, "uid": f"lgtm-{dashboard.source.signal}"}
        for panel, spec in zip(model["panels"], dashboard.panels):
            assert panel["title"] == spec.title
            assert panel["datasource"] == own, (dashboard.uid, panel["title"])
            assert [target["expr"] for target in panel["targets"]] == [query.expr for query in spec.queries]
            assert all(target["datasource"] == own for target in panel["targets"]), (dashboard.uid, panel["title"])
            assert [target.get("queryType", "") for target in panel["targets"]] == \
                [dashboard.source.query_type] * len(spec.queries)
    assert all(query.sources for _dashboard, _panel, _ref, query in dashboards.queries())


def test_a_dashboard_for_one_backend_names_it_in_every_query():
    """The logs dashboard's LogsQL runs on VictoriaLogs only: each query names it, so a stack scenario checks it
    where VictoriaLogs runs and lists it as not checked elsewhere."""
    written_for = [dashboard for dashboard in dashboards.DASHBOARDS if dashboard.source.backend]
    assert [dashboard.uid for dashboard in written_for] == ["lgtm-logs"]
    assert dashboards.LOGS.source.language == "logsql"
    for dashboard in written_for:
        for panel in dashboard.panels:
            assert all(dashboard.source.backend in query.sources for query in panel.queries), panel.title


def test_a_stale_file_is_named(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(dashboards, "OUTPUT", tmp_path)
    (tmp_path / "lgtm-stack.json").write_text("{}\n", encoding="utf-8")
    assert dashboards.main(["check"]) == 1
    assert "lgtm-stack.json" in capsys.readouterr().err


def test_every_collector_metric_a_query_reads_selects_a_component():
    """Jaeger runs the collector's code and serves the same otelcol_* metrics under the stack's job label: a
    query of them without a component selector counts Jaeger's pipeline with the collector's (every span
    twice where Jaeger stores the traces)."""
    unselected = [f"{dashboard.uid}/{panel.title}/{ref}: {name}"
                  for dashboard, panel, ref, query in dashboards.queries()
                  for name, labels in re.findall(r"(otelcol_[a-z_]+)(\{[^}]*\})?", query.expr)
                  if "component=" not in labels]
    assert not unselected, unselected
