"""The end-to-end checks of a whole stack, through each backend's own API.

Every stack scenario points its verifier at this folder, so the same checks
run against whichever backends the inventory chose for traces, metrics and
logs, all-in-one or distributed, over TLS with the scenario's credentials where
the inventory turns lgtm_tls on (the tls scenario runs these too). Grafana's
datasources are checked where the inventory has Grafana.
"""
from __future__ import annotations

import os
import sys
import urllib.parse
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from browser import Browser
from lgtm_stack import (REPO, Http, assert_context_crossed_the_hop, attribute, backend_of, docker_addresses,
                        figures_of, group_host, group_hosts, instant_query, log_lines, logs_api, logsql_range_stats,
                        metrics_api, record_figures, stack_access, traced_orders, traces_api, wait_for)

sys.path.insert(0, str(REPO / "lab"))
import dashboards  # noqa: E402  (lab/dashboards.py: the shipped dashboards' panels as data)

GRAFANA_PASSWORD_FILE = os.path.join(os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", "."), "grafana-admin-password")
# Screenshots of the browser tests, beside the scenarios' logs ($LGTM_CACHE/logs).
SCREENSHOTS = Path(os.environ.get("LGTM_CACHE", Path.home() / ".cache" / "observability-lgtm")) / "logs" / "screenshots"
# vmui has drawn the rows of a query's answer.
VMUI_ROWS_DRAWN = "document.querySelectorAll('.vm-group-logs-row').length > 0"


@pytest.fixture(scope="module")
def traces():
    return traces_api(backend_of("traces"), stack_access())


@pytest.fixture(scope="module")
def metrics():
    return metrics_api(backend_of("metrics"), stack_access())


@pytest.fixture(scope="module")
def logs():
    return logs_api(backend_of("logs"), stack_access())


@pytest.fixture(scope="module")
def orders(traces):
    return traced_orders(traces, group_host("demo"))


def test_every_order_trace_is_complete_in_the_traces_backend(traces, orders):
    missing = [o["trace_id"] for o in orders if o["spans"] is None]
    assert not missing, traces.explain(f"traces {missing} not complete within 60 s", None)


def test_trace_spans_both_services_linked_across_the_http_hop(orders):
    assert_context_crossed_the_hop(orders[0]["spans"])


def test_process_order_span_carries_the_order_id(orders):
    for order in orders:
        process = [s for s in order["spans"] if s["name"] == "process_order"]
        assert process and attribute(process[0], "order.id") == order["order_id"], process


def test_logs_backend_returns_the_log_line_with_the_trace_id(logs, orders):
    order = orders[0]
    lines = wait_for(lambda: log_lines(logs, "shop-front", order["trace_id"]), seconds=30)
    assert any(f"order {order['order_id']} accepted" in line for line in lines or []), \
        logs.explain(f"log line of order {order['order_id']} by trace ID {order['trace_id']}", lines)


def test_the_logs_ui_shows_the_orders_log_line_in_a_browser(logs, orders):
    """What a person sees: VictoriaLogs' own UI (vmui), opened in headless Chromium from the
    controller on the lab network, asked for the order's trace ID over the last hour, draws the
    order's log line; no console error. The screenshot is kept under the logs folder (the README's
    picture comes from it). Where logs go to Loki, Grafana is the UI, which the lab cannot run;
    over TLS with basic auth the scenario's other checks cover the API."""
    if logs.component != "victorialogs" or stack_access().tls:
        pytest.skip("vmui is checked where VictoriaLogs serves plain HTTP (default, distributed)")
    order = orders[0]
    assert wait_for(lambda: log_lines(logs, "shop-front", order["trace_id"]), seconds=30), "not stored yet"
    address = sorted(docker_addresses(group_hosts("victorialogs")[0])[0])[0]
    port = urllib.parse.urlsplit(logs.base).port
    end = (datetime.now(timezone.utc) + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%S")
    query = urllib.parse.quote(f"trace_id:{order['trace_id']}")
    url = f"http://{address}:{port}/select/vmui/#/?query={query}&g0.range_input=1h&g0.end_input={end}"
    screenshot = SCREENSHOTS / f"{os.environ.get('MOLECULE_SCENARIO_NAME', 'stack')}-vmui-trace.png"
    with Browser(allow=(address,)) as browser:
        page = browser.open(url, ready=VMUI_ROWS_DRAWN, screenshot=screenshot)
    assert not page.console_errors, f"{url}: console errors {page.console_errors}; screenshot {screenshot}"
    assert f"order {order['order_id']} accepted" in page.text, \
        f"{url}: the order's log line is not on the page; screenshot {screenshot}; text {page.text[:800]!r}"
    print(f"\nFIGURES-UI vmui_seconds={page.seconds} screenshot={screenshot}")


def test_metrics_backend_returns_the_request_counter_with_bounded_labels(metrics, orders):
    assert orders
    query = 'http_requests_total{job="shop-front", http_route="/orders"}'
    result = wait_for(lambda: instant_query(metrics, query), seconds=60)
    assert result and sum(float(series["value"][1]) for series in result) >= 1, metrics.explain(query, result)
    # Route, method and status only: an order or request ID as a label would
    # make one series per order.
    labels = set().union(*(series["metric"] for series in result))
    assert not {label for label in labels if "order" in label or "request_id" in label}, labels


def test_span_metrics_reach_the_metrics_backend(metrics, orders):
    assert orders
    query = 'sum by (service_name) (traces_span_metrics_calls_total{service_name="shop-front"})'
    result = wait_for(lambda: instant_query(metrics, query), seconds=90)
    assert result, metrics.explain(query, result)


def test_stack_components_are_scraped(metrics):
    # The collector scrapes itself and every backend (and Grafana) for the stack dashboard, each target's
    # series labelled with its component.
    query = 'min by (component) (up{job="lgtm-stack"})'
    expected = {"otel_collector", *(backend_of(signal) for signal in ("traces", "metrics", "logs")),
                *(("grafana",) if group_hosts("grafana") else ())}

    def all_up():
        result = instant_query(metrics, query)
        return ({r["metric"].get("component") for r in result} >= expected
                and all(r["value"][1] == "1" for r in result) and result)
    assert wait_for(all_up, seconds=90), metrics.explain(f"up of {sorted(expected)}", instant_query(metrics, query))
    accepted = 'sum(otelcol_receiver_accepted_spans_total{component="otel_collector"})'
    assert wait_for(lambda: instant_query(metrics, accepted), seconds=60), metrics.explain(accepted, None)


# Every query of the dashboards the stack ships whose metrics come from components this scenario deployed;
# the others are listed in the FIGURES-DASHBOARDS line (their components are not in this inventory).
DASHBOARD_QUERIES = [(dashboard, panel, ref, query) for dashboard, panel, ref, query in dashboards.queries()
                     if all(group_hosts(source) for source in query.sources)]


@pytest.mark.parametrize(("dashboard", "panel", "ref", "query"), DASHBOARD_QUERIES,
                         ids=[f"{d.uid}/{p.title}/{ref}" for d, p, ref, _q in DASHBOARD_QUERIES])
def test_every_dashboard_query_of_this_stack_returns_data(metrics, logs, orders, dashboard, panel, ref, query):
    """A renamed metric, label or log field turns a panel empty on every user's Grafana, silently: each query
    runs against the backend its dashboard's data source reads (PromQL on the metrics backend, LogsQL range
    stats on VictoriaLogs) after this stack's traced orders, and must return a series."""
    assert orders
    if dashboard.source.language == "logsql":
        api, run = logs, logsql_range_stats
    else:
        api, run = metrics, instant_query
    result = wait_for(lambda: run(api, query.expr), seconds=90)
    assert result, api.explain(f'dashboard "{dashboard.title}", panel "{panel.title}", query {ref} '
                               f"({query.legend}) returned nothing", result)


def test_dashboard_figures():
    """What of the dashboards this scenario checks, and what it cannot (components it did not deploy)."""
    every = list(dashboards.queries())
    absent = sorted({source for _d, _p, _r, query in every for source in query.sources if not group_hosts(source)})
    line = (f"FIGURES-DASHBOARDS queries={len(every)} checked={len(DASHBOARD_QUERIES)} "
            f"not_checked={len(every) - len(DASHBOARD_QUERIES)} components_not_deployed={','.join(absent) or '-'}")
    print("\n" + line)
    assert DASHBOARD_QUERIES


@pytest.mark.skipif(not group_hosts("grafana"), reason="the inventory has no Grafana")
@pytest.mark.parametrize("signal,uid", [("traces", "lgtm-traces"), ("metrics", "lgtm-metrics"), ("logs", "lgtm-logs")])
def test_grafana_datasources_answer(signal, uid):
    with open(GRAFANA_PASSWORD_FILE, encoding="utf-8") as handle:
        grafana = Http("grafana", "http://127.0.0.1:3000", auth=f"admin:{handle.read().strip()}")
    status, answer = grafana.get(f"/api/datasources/uid/{uid}")
    assert status == 200, grafana.explain(f"datasource {uid}", answer)
    status, health = grafana.get(f"/api/datasources/uid/{uid}/health")
    assert status == 200 and health.get("status") == "OK", grafana.explain(f"health of {uid} ({signal})", health)


def test_figures(orders):
    figures = figures_of(orders, backend_of("traces"))
    record_figures(figures)
    assert figures["request_to_complete_trace_s"]["median"] is not None
