"""The Grafana dashboards the collection ships (playbooks/dashboards/*.json), as code.

    python lab/dashboards.py write    regenerate the JSON files (`make dashboards`)
    python lab/dashboards.py check    exit 1 naming each file that differs from what `write` makes

The panels are data (DASHBOARDS); grafana-foundation-sdk, a development dependency only
(requirements-dev.txt), builds the JSON from them, which the grafana role ships as plain files.
Each dashboard reads one data source (its signal's UID, whichever backend serves it): PromQL on the
metrics data source, or LogsQL on VictoriaLogs' (the logs dashboard, which site.yml ships where
VictoriaLogs serves the logs and Grafana has its data source). Each query names the components
whose data it reads (Query.sources: stack catalogue names, or "demo" for the demo shop), so a stack
scenario runs every query whose sources it deployed against that backend's own API and fails
naming the panel when one returns nothing (tests/molecule/stack/test_stack.py); a unit test
fails when a shipped file differs from what this writes (tests/lab/test_dashboards.py).

Building the JSON needs the collection importable (PYTHONPATH at the collections folder, as `make`
sets it): the data source UIDs are the collection's own (module_utils/grafana_datasources.py). The
panels' data alone (`queries()`) needs neither the collection nor the SDK.
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, List, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stack_catalogue import CATALOGUE  # noqa: E402  (the lab's loader of the collection's catalogue)

OUTPUT = Path(__file__).resolve().parents[1] / "playbooks" / "dashboards"
# Where a query's metric comes from, besides the catalogue's components.
OTHER_SOURCES = ("demo",)
COLUMNS = 2
PANEL_WIDTH = 24 // COLUMNS
PANEL_HEIGHT = 8


@dataclass(frozen=True)
class Source:
    """The data source a dashboard's panels query: its signal (whose UID, module_utils/grafana_datasources.py),
    the backend it is written for ("" for any backend of the signal), its plugin and query language, and the
    query type its targets carry ("" for the plugin's default)."""

    signal: str
    backend: str
    type: str
    language: str
    query_type: str = ""

    @property
    def ref(self) -> Dict[str, str]:
        """How a panel or query names this data source: its plugin and the signal's fixed UID."""
        from ansible_collections.observability.lgtm.plugins.module_utils.grafana_datasources import UIDS
        return {"type": self.type, "uid": UIDS[self.signal]}


# Prometheus and Mimir both answer PromQL on the metrics data source.
METRICS = Source("metrics", "", "prometheus", "promql")
_VICTORIALOGS = CATALOGUE.component("victorialogs").datasource
# Range stats (/select/logsql/stats_query_range): a LogsQL query ending in `| stats by (...) ...`, drawn as time
# series (the plugin's QueryType.StatsRange).
VICTORIALOGS = Source("logs", "victorialogs", _VICTORIALOGS.type, _VICTORIALOGS.query_language, "statsRange")


@dataclass(frozen=True)
class Query:
    """One query of a panel (in its dashboard's query language), its legend, and the components whose data it
    reads (all of them must be deployed for it to return anything)."""

    expr: str
    legend: str
    sources: Tuple[str, ...]


@dataclass(frozen=True)
class Panel:
    title: str
    unit: str
    queries: Tuple[Query, ...]
    description: str = ""


@dataclass(frozen=True)
class Dashboard:
    uid: str
    title: str
    # Its file under playbooks/dashboards (site.yml's vars read it by this name).
    file_name: str
    panels: Tuple[Panel, ...]
    source: Source = METRICS

    @property
    def file(self) -> Path:
        return OUTPUT / self.file_name


def selector(*matchers: str) -> str:
    """A PromQL label selector of the matchers, or nothing without one."""
    return "{" + ", ".join(matchers) + "}" if matchers else ""


COLLECTOR = ("otel_collector",)
DEMO = ("demo", "otel_collector")
# The stack's collectors' own series: the stack's scrape labels each target with its component
# (playbooks/vars/stack.yml, lgtm_stack_scrape_jobs), and Jaeger, which runs the collector's code,
# serves the same otelcol_* names; without this selector a panel counts Jaeger's pipeline too.
STACK_COLLECTOR = selector('component="otel_collector"')

STACK = Dashboard("lgtm-stack", "LGTM stack: ingest, errors, queues", "lgtm-stack.json", (
    Panel("Collector: accepted per second", "ops", (
        Query(f"sum(rate(otelcol_receiver_accepted_spans_total{STACK_COLLECTOR}[5m]))", "spans", COLLECTOR),
        Query(f"sum(rate(otelcol_receiver_accepted_metric_points_total{STACK_COLLECTOR}[5m]))", "metric points",
              COLLECTOR),
        Query(f"sum(rate(otelcol_receiver_accepted_log_records_total{STACK_COLLECTOR}[5m]))", "log records", COLLECTOR),
    )),
    # One query per signal's counter: a sum of the three rates with `+` matches series with equal labels
    # only (an exporter sends one signal: no series), and one selector over the three names makes
    # series that differ only in their dropped names, which Prometheus refuses for a receiver that
    # takes all three signals. The collector creates a refused or failed counter at its first refusal
    # or failure: until then each line is 0 from the accepted or sent counter, not an empty panel.
    Panel("Collector: refused and failed per second", "ops", tuple(
        Query(f"sum by ({part}) (rate(otelcol_{part}_{counter}_{signal}_total{STACK_COLLECTOR}[5m])) "
              f"or 0 * sum by ({part}) (rate(otelcol_{part}_{done}_{signal}_total{STACK_COLLECTOR}[5m]))",
              f"{counter.replace('send_', '')} {label} {{{{{part}}}}}", COLLECTOR)
        for part, counter, done in (("receiver", "refused", "accepted"), ("exporter", "send_failed", "sent"))
        for signal, label in (("spans", "spans"), ("metric_points", "metric points"), ("log_records", "log records"))
    )),
    Panel("Collector: exporter queue size / capacity", "short", (
        Query(f"max by (exporter) (otelcol_exporter_queue_size{STACK_COLLECTOR})", "size {{exporter}}", COLLECTOR),
        Query(f"max by (exporter) (otelcol_exporter_queue_capacity{STACK_COLLECTOR})", "capacity {{exporter}}",
              COLLECTOR),
    )),
    Panel("Backends: ingested per second", "ops", (
        Query("sum(rate(tempo_distributor_spans_received_total[5m]))", "Tempo spans", ("tempo",)),
        Query("sum(rate(cortex_distributor_received_samples_total[5m]))", "Mimir samples", ("mimir",)),
        Query("sum(rate(loki_distributor_lines_received_total[5m]))", "Loki lines", ("loki",)),
        # Jaeger runs the collector's code: what its storage exporter wrote.
        Query('sum(rate(otelcol_exporter_sent_spans_total{component="jaeger"}[5m]))', "Jaeger spans", ("jaeger",)),
        Query('sum(rate(prometheus_tsdb_head_samples_appended_total{component="prometheus"}[5m]))',
              "Prometheus samples", ("prometheus",)),
        Query('sum(rate(vl_rows_ingested_total{component="victorialogs"}[5m]))', "VictoriaLogs rows",
              ("victorialogs",)),
    )),
    # 0, not an empty panel, while no request failed: a counter of failed requests by status code has no
    # series until the first one (VictoriaLogs keeps its error counters at 0 from the start).
    Panel("Backends: failed requests per second", "ops", tuple(
        Query(f"sum by (instance) (rate({counter}{selector(*mine, failed)}[5m])) "
              f"or 0 * sum by (instance) (rate({counter}{selector(*mine)}[5m]))", f"{name} {{{{instance}}}}", (source,))
        for name, source, counter, mine, failed in (
            ("Tempo", "tempo", "tempo_request_duration_seconds_count", (), 'status_code=~"5.."'),
            ("Mimir", "mimir", "cortex_request_duration_seconds_count", (), 'status_code=~"5.."'),
            ("Loki", "loki", "loki_request_duration_seconds_count", (), 'status_code=~"5.."'),
            ("Jaeger", "jaeger", "http_server_request_duration_seconds_count", ('component="jaeger"',),
             'http_response_status_code=~"5.."'),
            ("Prometheus", "prometheus", "prometheus_http_requests_total", ('component="prometheus"',), 'code=~"5.."'),
        )) + (
        Query('sum by (instance) (rate(vl_http_errors_total{component="victorialogs"}[5m]))',
              "VictoriaLogs {{instance}}", ("victorialogs",)),
    ), description="HTTP 5xx answers (VictoriaLogs: the requests its HTTP server counts as errors)."),
    Panel("Targets up", "short", (
        Query('up{job="lgtm-stack"}', "{{component}} {{instance}}", COLLECTOR),
    )),
))

RED = Dashboard("lgtm-demo-shop", "Demo shop: rate, errors, duration", "demo-shop-red.json", (
    Panel("Rate: requests per second", "reqps", (
        Query("sum by (job, http_route) (rate(http_requests_total[5m]))", "{{job}} {{http_route}}", DEMO),
    )),
    Panel("Errors: 5xx ratio", "percentunit", (
        # 0, not an empty panel, while no request failed: the ratio's numerator has no series then.
        Query('(sum by (job) (rate(http_requests_total{http_response_status_code=~"5.."}[5m])) '
              "or 0 * sum by (job) (rate(http_requests_total[5m]))) "
              "/ sum by (job) (rate(http_requests_total[5m]))", "{{job}}", DEMO),
    )),
    Panel("Duration: p95 per span (from span metrics)", "ms", (
        Query("histogram_quantile(0.95, sum by (le, service_name, span_name) "
              "(rate(traces_span_metrics_duration_milliseconds_bucket[5m])))", "{{service_name}} {{span_name}}", DEMO),
    )),
    Panel("Service graph: requests per second", "reqps", (
        Query("sum by (client, server) (rate(traces_service_graph_request_total[5m]))", "{{client}} -> {{server}}",
              DEMO),
    )),
))

# What each host's collector reads about its own host (hostmetrics, with the host's name: playbooks/vars/
# stack.yml, lgtm_stack_host_receivers), one line per host.
HOSTS = Dashboard("lgtm-hosts", "Hosts: CPU, memory, network, disk", "hosts.json", (
    Panel("CPU busy", "percentunit", (
        Query('1 - sum by (host_name) (rate(system_cpu_time_seconds_total{state="idle"}[5m])) '
              "/ sum by (host_name) (rate(system_cpu_time_seconds_total[5m]))", "{{host_name}}", COLLECTOR),
    )),
    Panel("Memory used", "bytes", (
        Query('sum by (host_name) (system_memory_usage_bytes{state="used"})', "{{host_name}}", COLLECTOR),
    )),
    Panel("Network: bytes per second (loopback left out)", "Bps", (
        Query('sum by (host_name, direction) (rate(system_network_io_bytes_total{device!="lo"}[5m]))',
              "{{host_name}} {{direction}}", COLLECTOR),
    )),
    Panel("Disk: bytes per second", "Bps", (
        Query("sum by (host_name, direction) (rate(system_disk_io_bytes_total[5m]))", "{{host_name}} {{direction}}",
              COLLECTOR),
    )),
    Panel("Load average (1 minute)", "short", (
        Query("max by (host_name) (system_cpu_load_average_1m)", "{{host_name}}", COLLECTOR),
    )),
))

# What reaches the logs backend, from VictoriaLogs' own query API (LogsQL range stats: one point per step of the
# panel's time range): the demo shop's records over OTLP and the hosts' log files, read by their collectors.
LOGS_SOURCES = ("victorialogs", "otel_collector")
LOGS = Dashboard("lgtm-logs", "Logs: records per service and host", "logs-victorialogs.json", (
    Panel("Log records per second, per service", "ops", (
        Query("* | stats by (service.name) rate() records_per_second", "{{service.name}}", LOGS_SOURCES),
    ), description="Records without a service.name (a host's log files) are the line without a name."),
    Panel("Log records per second, per host", "ops", (
        Query("* | stats by (host.name) rate() records_per_second", "{{host.name}}", LOGS_SOURCES),
    )),
    Panel("Log records that carry a trace ID, per second, per service", "ops", (
        Query("trace_id:* | stats by (service.name) rate() records_per_second", "{{service.name}}",
              ("victorialogs", "demo", "otel_collector")),
    ), description="The records a trace links to: an application's records without one cannot be found from "
                   "its traces."),
), source=VICTORIALOGS)

DASHBOARDS: Tuple[Dashboard, ...] = (STACK, RED, HOSTS, LOGS)


def ref_id(index: int) -> str:
    """Grafana's id of a panel's query number `index`: A, B, C..."""
    return chr(ord("A") + index)


def queries() -> Iterator[Tuple[Dashboard, Panel, str, Query]]:
    """Every query of every panel, with its dashboard, panel and refId."""
    for dashboard in DASHBOARDS:
        for panel in dashboard.panels:
            for index, query in enumerate(panel.queries):
                yield dashboard, panel, ref_id(index), query


def unknown_sources() -> List[str]:
    """Sources named by a query that are neither a catalogue component nor one of OTHER_SOURCES."""
    known = set(CATALOGUE.CATALOGUE) | set(OTHER_SOURCES)
    return sorted({f"{dashboard.uid}/{panel.title}: {source}" for dashboard, panel, _ref, query in queries()
                   for source in query.sources if source not in known})


class PluginQuery:
    """A query of a data source plugin the SDK has no builder for (VictoriaLogs'), as the plugin stores it
    (victorialogs-datasource, src/types.ts: Query): built as it is."""

    def __init__(self, model: Dict[str, object]) -> None:
        self.model = model

    def build(self) -> object:
        from grafana_foundation_sdk.cog.runtime import UnknownDataquery
        return UnknownDataquery(self.model)


def plugin_query(source: Source, ref: str, query: Query) -> Dict[str, object]:
    """A query's model for a data source plugin the SDK has no builder for."""
    model: Dict[str, object] = {"refId": ref, "datasource": source.ref,
                                "editorMode": "code", "expr": query.expr, "legendFormat": query.legend}
    if source.query_type:
        model["queryType"] = source.query_type
    return model


def build(dashboard: Dashboard) -> Dict[str, object]:
    """The dashboard's JSON model, as Grafana provisions it."""
    from grafana_foundation_sdk.builders.common import VizLegendOptions
    from grafana_foundation_sdk.builders.dashboard import Dashboard as DashboardBuilder
    from grafana_foundation_sdk.builders.prometheus import Dataquery
    from grafana_foundation_sdk.builders.timeseries import Panel as Timeseries
    from grafana_foundation_sdk.cog.encoder import JSONEncoder
    from grafana_foundation_sdk.models.common import DataSourceRef, LegendDisplayMode, LegendPlacement
    from grafana_foundation_sdk.models.dashboard import GridPos

    source = DataSourceRef(type_val=dashboard.source.ref["type"], uid=dashboard.source.ref["uid"])
    builder = (DashboardBuilder(dashboard.title).uid(dashboard.uid).tags(["lgtm", "observability.lgtm"])
               .timezone("utc").refresh("30s").time("now-1h", "now").readonly())
    for number, panel in enumerate(dashboard.panels):
        timeseries = (Timeseries().id(number + 1).title(panel.title).datasource(source).unit(panel.unit)
                      .grid_pos(GridPos(x=(number % COLUMNS) * PANEL_WIDTH, y=(number // COLUMNS) * PANEL_HEIGHT,
                                        w=PANEL_WIDTH, h=PANEL_HEIGHT))
                      .legend(VizLegendOptions().display_mode(LegendDisplayMode.LIST)
                              .placement(LegendPlacement.BOTTOM).show_legend(True)))
        if panel.description:
            timeseries = timeseries.description(panel.description)
        for index, query in enumerate(panel.queries):
            if dashboard.source == METRICS:
                target: object = (Dataquery().ref_id(ref_id(index)).datasource(source).expr(query.expr)
                                  .legend_format(query.legend))
            else:
                target = PluginQuery(plugin_query(dashboard.source, ref_id(index), query))
            timeseries = timeseries.with_target(target)
        builder = builder.with_panel(timeseries)
    return json.loads(JSONEncoder(sort_keys=True).encode(builder.build()))


def render(dashboard: Dashboard) -> str:
    """The file's text: the model, sorted and indented, with a final newline."""
    return json.dumps(build(dashboard), indent=2, sort_keys=True) + "\n"


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=("write", "check"))
    action = parser.parse_args(argv).action
    problems = unknown_sources()
    if problems:
        print("queries name unknown sources:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 1
    stale = []
    for dashboard in DASHBOARDS:
        text = render(dashboard)
        if action == "write":
            dashboard.file.write_text(text, encoding="utf-8")
            print(f"wrote {dashboard.file.relative_to(OUTPUT.parents[1])}")
        elif not dashboard.file.is_file() or dashboard.file.read_text(encoding="utf-8") != text:
            stale.append(str(dashboard.file.relative_to(OUTPUT.parents[1])))
    if stale:
        print("differs from lab/dashboards.py (run `make dashboards`): " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
