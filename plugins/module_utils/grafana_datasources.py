# -*- coding: utf-8 -*-
# Copyright: observability.lgtm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Grafana's data sources for the stack: one per signal, whichever backend serves it.

Each data source has a fixed UID per signal (lgtm-traces, lgtm-metrics,
lgtm-logs), so dashboards and links survive a change of backend. They are
correlated both ways: a span links to its logs (by trace ID and service) and to
its service's metrics, a service map reads the servicegraph metrics, a log
line's trace_id links to its trace, an exemplar links to its trace. Those links
are written here, once for every backend; what is a backend's own (its plugin,
name, query language, plugin settings, whether it checks a login, whether
Grafana's release carries its plugin) is its entry in the stack catalogue.

"$$" keeps Grafana's provisioning from expanding a variable when it loads the file.
"""

from __future__ import annotations

import copy
from typing import Any, Dict, List, Mapping, Optional

from ansible_collections.observability.lgtm.plugins.module_utils.stack_catalogue import (
    SIGNALS, Component, Datasource, component)

UIDS: Mapping[str, str] = {signal: f"lgtm-{signal}" for signal in SIGNALS}

# The wiring endpoint (wiring_endpoints.<signal>.<key>) each signal's data source queries.
QUERY_ENDPOINTS: Mapping[str, str] = {"traces": "query", "metrics": "query", "logs": "http"}

# The data source that answers when a panel names none.
DEFAULT_SIGNAL = "traces"

# What a traces data source's spans link to. The logs link is a LogQL query: only a logs data
# source that speaks LogQL gets it.
TRACES_TO_LOGS_QUERY = '{service_name="$${__span.tags["service.name"]}"} | trace_id="$${__trace.traceId}"'
TRACES_TO_METRICS: Mapping[str, Any] = {
    "datasourceUid": UIDS["metrics"], "spanStartTimeShift": "-5m", "spanEndTimeShift": "5m",
    "tags": [{"key": "service.name", "value": "service_name"}],
    "queries": [{"name": "Request rate", "query": "sum(rate(traces_span_metrics_calls_total{$$__tags}[5m]))"}],
}
# A metrics data source's exemplars, and a logs data source's lines, link to their trace by its ID.
EXEMPLAR_TRACE_LINKS: List[Mapping[str, str]] = [{"name": "trace_id", "datasourceUid": UIDS["traces"]}]
LOG_TRACE_LINKS: List[Mapping[str, str]] = [{
    "name": "TraceID", "matcherType": "label", "matcherRegex": "trace_id", "datasourceUid": UIDS["traces"],
    "url": "$${__value.raw}", "urlDisplayLabel": "View trace"}]


class DatasourceError(ValueError):
    """The wiring names a backend Grafana has no data source for, or a value of the wrong shape."""


def _json_data(signal: str, own: Datasource, logql_logs_uid: str) -> Dict[str, Any]:
    """jsonData: the signal's links to the others, then the backend's own settings."""
    data: Dict[str, Any] = {}
    if signal == "traces":
        if logql_logs_uid:
            data["tracesToLogsV2"] = {"datasourceUid": logql_logs_uid, "spanStartTimeShift": "-5m",
                                      "spanEndTimeShift": "5m", "filterByTraceID": True, "filterBySpanID": False,
                                      "customQuery": True, "query": TRACES_TO_LOGS_QUERY}
        else:
            data["tracesToLogsV2"] = {}
        data["tracesToMetrics"] = copy.deepcopy(dict(TRACES_TO_METRICS))
        data["nodeGraph"] = {"enabled": True}
        if own.service_map:
            data["serviceMap"] = {"datasourceUid": UIDS["metrics"]}
        if own.logs_search and logql_logs_uid:
            data["lokiSearch"] = {"datasourceUid": logql_logs_uid}
    elif signal == "metrics":
        data["httpMethod"] = "POST"
        data["exemplarTraceIdDestinations"] = [dict(link) for link in EXEMPLAR_TRACE_LINKS]
    else:
        data["derivedFields"] = [dict(link) for link in LOG_TRACE_LINKS]
    data.update(copy.deepcopy(dict(own.json_data)))
    return data


def _login(entry: Component, credential: Any, signal: str) -> Dict[str, Any]:
    """basicAuth settings where the backend checks the signal's credential and one is set."""
    if not entry.checks_basic_auth or credential is None:
        return {}
    if not isinstance(credential, Mapping) or not all(
            isinstance(credential.get(key), str) for key in ("username", "password")):
        raise DatasourceError(f"lgtm_{signal}_basic_auth must be a mapping with string username and password")
    return {"basicAuth": True, "basicAuthUser": credential["username"],
            "secureJsonData": {"basicAuthPassword": credential["password"]}}


def grafana_datasources(endpoints: Mapping[str, Any], logins: Optional[Mapping[str, Any]] = None,
                        tls_ca_file: str = "", kubernetes: bool = False) -> List[Dict[str, Any]]:
    """The data sources of the stack wired in ``endpoints`` (the wiring_endpoints fact).

    ``logins`` holds each signal's basic-auth credential (None: unset), sent where the backend checks
    it; ``tls_ca_file`` (empty: no TLS) is the CA on Grafana's host that every data source checks the
    backend's certificate against, read by Grafana itself ($__file{}); ``kubernetes``: Grafana runs
    upstream's image, so a backend whose plugin is not in Grafana's release gets no data source.
    """
    logins = logins or {}
    entries: Dict[str, Component] = {}
    sources: Dict[str, Datasource] = {}
    for signal in SIGNALS:
        wired = endpoints.get(signal)
        if not isinstance(wired, Mapping) or not isinstance(wired.get("type"), str):
            raise DatasourceError(f"wiring_endpoints.{signal}.type is missing: the wiring names no {signal} backend")
        entry = component(wired["type"])
        if entry.datasource is None or signal not in entry.serves:
            raise DatasourceError(f"wiring_endpoints.{signal}.type: Grafana has no {signal} data source for "
                                  f"{entry.name}")
        entries[signal], sources[signal] = entry, entry.datasource
    # A backend whose plugin Grafana's release lacks has no data source on Kubernetes (upstream's image as it is).
    served = [signal for signal in SIGNALS if sources[signal].in_grafana_release or not kubernetes]
    # Spans link to their logs in LogQL: only where the logs data source is served and speaks it.
    logql_logs_uid = UIDS["logs"] if "logs" in served and sources["logs"].query_language == "logql" else ""
    found: List[Dict[str, Any]] = []
    for signal in served:
        own = sources[signal]
        source: Dict[str, Any] = {"name": own.name, "uid": UIDS[signal], "type": own.type, "access": "proxy",
                                  "url": endpoints[signal][QUERY_ENDPOINTS[signal]],
                                  "jsonData": _json_data(signal, own, logql_logs_uid)}
        if signal == DEFAULT_SIGNAL:
            source["isDefault"] = True
        login = _login(entries[signal], logins.get(signal), signal)
        source.update({key: value for key, value in login.items() if key != "secureJsonData"})
        secure = dict(login.get("secureJsonData", {}))
        if tls_ca_file:
            source["jsonData"]["tlsAuthWithCACert"] = True
            secure["tlsCACert"] = "$__file{" + tls_ca_file + "}"
        if secure:
            source["secureJsonData"] = secure
        found.append(source)
    return found
