"""The end-to-end checks of a whole stack, through Grafana's API.

The `default` (all-in-one) and `distributed` scenarios both point their
verifier at this folder, so the same checks run against either lab.
"""
from __future__ import annotations

import re

import pytest
from lgtm_stack import (Grafana, admin_password, attribute, figures_of, group_host, record_figures,
                        spans_of, traced_orders, wait_for)


@pytest.fixture(scope="module")
def grafana():
    return Grafana(group_host("grafana"), admin_password())


@pytest.fixture(scope="module")
def demo():
    return group_host("demo")


@pytest.fixture(scope="module")
def orders(grafana, demo):
    return traced_orders(grafana, demo)


@pytest.mark.parametrize("uid,type_", [("lgtm-tempo", "tempo"), ("lgtm-mimir", "prometheus"),
                                       ("lgtm-loki", "loki")])
def test_datasources_are_provisioned_with_fixed_uids_and_healthy(grafana, uid, type_):
    status, answer = grafana.get(f"/api/datasources/uid/{uid}")
    assert status == 200 and answer["type"] == type_, grafana.explain(f"datasource {uid}", answer, "grafana", grafana.host)
    if type_ == "tempo":
        # Grafana's Tempo health check lives in its frontend, which calls Tempo's
        # /api/echo through the datasource proxy; do the same.
        status, health = grafana.get(f"/api/datasources/proxy/uid/{uid}/api/echo")
        healthy = status == 200 and str(health).strip() == "echo"
    else:
        status, health = grafana.get(f"/api/datasources/uid/{uid}/health")
        healthy = status == 200 and health.get("status") == "OK"
    assert healthy, grafana.explain(f"health of {uid}", health, "grafana", grafana.host)


@pytest.mark.parametrize("uid", ["lgtm-stack", "lgtm-demo-shop"])
def test_dashboards_are_provisioned(grafana, uid):
    status, answer = grafana.get(f"/api/dashboards/uid/{uid}")
    assert status == 200 and answer["dashboard"]["panels"], grafana.explain(f"dashboard {uid}", answer, "grafana", grafana.host)


def test_every_order_trace_is_visible_through_grafana(grafana, orders):
    missing = [o["trace_id"] for o in orders if o["trace"] is None]
    assert not missing, grafana.explain(f"traces {missing} not complete in Tempo (through Grafana) within 60 s",
                                        None, "tempo", group_host("tempo"))


def test_trace_spans_both_services_linked_across_the_http_hop(orders):
    spans = spans_of(orders[0]["trace"])
    by_id = {s["spanId"]: s for s in spans}
    # The back service's server span has the front service's client span as parent:
    # W3C trace context crossed the HTTP hop.
    back_server = [s for s in spans if s["service"] == "shop-back" and s.get("kind") == "SPAN_KIND_SERVER"]
    assert back_server, spans
    parent = by_id.get(back_server[0].get("parentSpanId"))
    assert parent is not None, f"back span's parent is not in the trace: {spans}"
    assert parent["service"] == "shop-front" and parent.get("kind") == "SPAN_KIND_CLIENT", parent
    assert all(s["traceId"] == spans[0]["traceId"] for s in spans)


def test_process_order_span_carries_the_order_id(orders):
    for order in orders:
        process = [s for s in spans_of(order["trace"]) if s["name"] == "process_order"]
        assert process and attribute(process[0], "order.id") == order["order_id"], process


def test_loki_returns_the_log_line_with_the_trace_id(grafana, orders):
    order = orders[0]
    query = f'{{service_name="shop-front"}} | trace_id="{order["trace_id"]}"'
    lines = wait_for(lambda: grafana.loki_lines(query)[0], seconds=30)
    assert any(f"order {order['order_id']} accepted" in line for line in lines or []), \
        grafana.explain("log line of the order", grafana.loki_lines(query)[1], "loki", group_host("loki"))


def test_trace_to_logs_link_of_the_tempo_datasource_resolves_to_the_log_line(grafana, orders):
    # What Grafana's trace view does with a span: take the provisioned link
    # query and fill in the span's service and the trace ID.
    status, tempo = grafana.get("/api/datasources/uid/lgtm-tempo")
    link = tempo["jsonData"]["tracesToLogsV2"]
    assert status == 200 and link["datasourceUid"] == "lgtm-loki", tempo
    order = orders[0]
    span = next(s for s in spans_of(order["trace"]) if s["name"] == "process_order")
    query = re.sub(r'\$\{__span\.tags\["service\.name"\]\}', span["service"], link["query"])
    query = query.replace("${__trace.traceId}", order["trace_id"])
    assert "${" not in query, query
    lines = wait_for(lambda: grafana.loki_lines(query)[0], seconds=30)
    assert any(order["order_id"] in line for line in lines or []), \
        grafana.explain(f"trace-to-logs query {query}", grafana.loki_lines(query)[1], "loki", group_host("loki"))


def test_mimir_returns_the_request_counter_of_the_service(grafana, orders):
    assert orders
    query = 'sum by (job) (http_requests_total{job="shop-front", http_route="/orders"})'
    result = wait_for(lambda: grafana.prometheus(query)[0], seconds=60)
    assert result and float(result[0]["value"][1]) >= 1, \
        grafana.explain(query, grafana.prometheus(query)[1], "mimir", group_host("mimir"))


def test_tempo_cli_sees_the_trace_too(orders):
    # Second witness: Tempo's own client, straight to Tempo on its host.
    tempo = group_host("tempo")
    out = tempo.run("tempo-cli query api trace-id http://127.0.0.1:3200 %s", orders[0]["trace_id"])
    assert out.rc == 0 and "process_order" in out.stdout, (out.stdout, out.stderr)


def test_stack_components_are_scraped(grafana):
    # The collector scrapes every backend and Grafana for the stack dashboard.
    query = 'min by (instance) (up{job="lgtm-stack"})'
    expected = 4

    def all_up():
        result = grafana.prometheus(query)[0]
        return len(result) >= expected and all(r["value"][1] == "1" for r in result) and result
    assert wait_for(all_up, seconds=90), \
        grafana.explain(query, grafana.prometheus(query)[1], "otelcol", group_host("otel_collector"))
    accepted = "sum(otelcol_receiver_accepted_spans_total)"
    assert wait_for(lambda: grafana.prometheus(accepted)[0], seconds=60), \
        grafana.explain(accepted, grafana.prometheus(accepted)[1], "otelcol", group_host("otel_collector"))


def test_figures(orders):
    figures = figures_of(orders)
    record_figures(figures)
    assert figures["trace_visible_in_grafana_s"]["median"] is not None
