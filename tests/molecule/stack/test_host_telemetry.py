"""Every host reports itself: its metrics with its name, its log files' lines each exactly once.

site.yml gives every host a collector that reads its own host: the gateway's
hosts read themselves, every other host runs an agent (the otel_agents group,
by default every host). Proven through the backends' own APIs: each such host's
metrics arrive with its host.name; lines written to a log file arrive once
each, including lines written while the collector was stopped and lines written
after a rotation by rename and after a copy-truncate rotation.
"""
from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest
import testinfra
from lgtm_stack import (INVENTORY, Http, backend_of, group_hosts, instant_query, logs_api, metrics_api, runner,
                        stack_access, wait_for)

# A file the collectors' default glob (/var/log/*.log) reads.
LOG_FILE = "/var/log/lgtm-host-telemetry.log"
LINES = 20


def collector_hosts() -> list[str]:
    """The hosts whose collector reads its own host: the gateway's and the agents' (not a cluster's)."""
    gateways = list(group_hosts("otel_collector"))
    variables = runner().get_variables(gateways[0]) if gateways else {}
    if variables.get("lgtm_platform") == "kubernetes":
        return []
    agents_group = "otel_agents" if group_hosts("otel_agents") else "all"
    agents = [host for host in group_hosts(agents_group) if host not in gateways]
    return gateways + agents


@pytest.fixture(scope="module")
def hosts() -> list[str]:
    found = collector_hosts()
    if not found:
        pytest.fail("no host with a collector that reads its own host: the inventory stands for a cluster")
    return found


def host_of(name: str) -> Any:
    return testinfra.get_host(f"ansible://{name}", ansible_inventory=INVENTORY)


def log_count(api: Http, marker: str) -> int:
    """Stored log records whose body holds the marker."""
    if api.component == "victorialogs":
        status, answer = api.get("/select/logsql/query", query=f'_time:1h AND "{marker}" | stats count() as n')
        rows = [json.loads(line) for line in (answer if isinstance(answer, str) else json.dumps(answer)).splitlines()
                if line.strip()] if status == 200 else []
        return int(rows[0]["n"]) if rows else 0
    now_ns = time.time_ns()
    status, answer = api.get("/loki/api/v1/query_range", query=f'{{service_name=~".+"}} |= "{marker}"',
                             start=str(now_ns - 3600 * 10**9), end=str(now_ns + 60 * 10**9), limit="5000")
    if status != 200 or not isinstance(answer, dict):
        return 0
    return sum(len(stream["values"]) for stream in answer["data"]["result"])


def write_lines(host: Any, path: str, marker: str, first: int, count: int) -> None:
    """Append numbered lines, the marker in each, as an application would."""
    host.check_output("for i in $(seq %s %s); do echo \"$(date -u +%%FT%%TZ) info %s line $i\" >> %s; done",
                      str(first), str(first + count - 1), marker, path)


def wait_for_count(api: Http, marker: str, expected: int, seconds: float = 90) -> int:
    """The stored count once it reaches the expected one (or the last count seen), then a few more polls:
    a line read twice would show up a little later."""
    def reached() -> int | None:
        found = log_count(api, marker)
        return found if found >= expected else None

    count = wait_for(reached, seconds=seconds, interval=2) or log_count(api, marker)
    time.sleep(5)
    return max(count, log_count(api, marker))


def test_every_host_reports_its_metrics_with_its_name(hosts):
    metrics = metrics_api(backend_of("metrics"), stack_access())
    names = {host: host_of(host).check_output("hostname").strip() for host in hosts}

    def reported() -> set[str] | None:
        series = instant_query(metrics, 'count by (host_name) ({__name__=~"system_memory_usage.*"})')
        found = {entry["metric"].get("host_name", "") for entry in series}
        return found if set(names.values()) <= found else None

    found = wait_for(reported, seconds=120, interval=3)
    assert found, metrics.explain(f"memory usage of every host {sorted(names.values())} by host_name",
                                  instant_query(metrics, 'count by (host_name) ({__name__=~"system_memory_usage.*"})'))


def test_log_file_lines_arrive_once_across_a_restart_and_both_rotations(hosts):
    # The last host: an agent where the inventory has agents, else the gateway's host.
    host = host_of(hosts[-1])
    logs = logs_api(backend_of("logs"), stack_access())
    marker = f"lgtm-host-{uuid.uuid4().hex[:12]}"
    written = 0
    host.check_output("rm -f %s %s.1 && touch %s", LOG_FILE, LOG_FILE, LOG_FILE)
    # The collector finds the new file at its next poll and reads it from its start.
    time.sleep(3)
    write_lines(host, LOG_FILE, marker, written + 1, LINES)
    written += LINES
    assert wait_for_count(logs, marker, written) == written, logs.explain("lines of a new log file", None)

    # Lines written while the collector is stopped are read after its start, from the stored offset.
    host.check_output("systemctl stop otelcol")
    write_lines(host, LOG_FILE, marker, written + 1, LINES)
    written += LINES
    host.check_output("systemctl start otelcol")
    assert wait_for_count(logs, marker, written) == written, \
        logs.explain("lines written while the collector was stopped, once each", None)

    # Rotation by rename (logrotate's default): the old file moves away, a new one takes its name.
    host.check_output("mv %s %s.1 && touch %s", LOG_FILE, LOG_FILE, LOG_FILE)
    write_lines(host, LOG_FILE, marker, written + 1, LINES)
    written += LINES
    assert wait_for_count(logs, marker, written) == written, logs.explain("lines after a rename rotation", None)

    # Copy-truncate rotation: the file is copied away and emptied in place, then written again.
    host.check_output("cp %s %s.1 && truncate -s 0 %s", LOG_FILE, LOG_FILE, LOG_FILE)
    write_lines(host, LOG_FILE, marker, written + 1, LINES)
    written += LINES
    assert wait_for_count(logs, marker, written) == written, \
        logs.explain("lines after a copy-truncate rotation, once each", None)
    host.check_output("rm -f %s %s.1", LOG_FILE, LOG_FILE)


def test_the_collector_reads_logs_through_groups_not_as_root(hosts):
    for name in hosts:
        host = host_of(name)
        properties = host.check_output("systemctl show otelcol -p User -p SupplementaryGroups -p ProtectSystem")
        assert "User=otelcol" in properties and "ProtectSystem=strict" in properties, properties
        assert "SupplementaryGroups=adm" in properties, properties
