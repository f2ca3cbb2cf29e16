"""Upgrade N to N+1, proven on a running stack.

The converge installed each component at the release before the one its role
pins (N, lab/versions.yml `upgrade_from`; a component with none that builds here
runs its pinned release throughout). Then, in order:
  1. with N running, telemetrygen on the controller sends counted spans, log
     records and metric points tagged with a run ID, and the demo shop takes a
     traced order; each backend's own API must hold all of it;
  2. site.yml --check with the roles' defaults (N+1) previews the upgrade and
     changes nothing: same binaries, no service started;
  3. site.yml with the roles' defaults: the upgrade, timed;
  4. each upgraded binary reports N+1 and each service runs it; systemd's
     journal shows each upgraded service started exactly once in that run, and
     the others (the demo shop, any component not upgraded) not at all; no install tree of N
     is left;
  5. everything written in 1 is still queryable, through the same APIs;
  6. new counted data flows through the upgraded stack;
  7. site.yml once more: changed=0 and no service started.
The figures (versions, starts, counts, seconds) are printed as `FIGURES {json}`
and kept in the scenario's figures.json.
"""
from __future__ import annotations

import re
import secrets
import time
from typing import Any

import pytest
import yaml
from lgtm_stack import (REPO, changed_counts, complete_trace, converge_timings, failed_tasks, group_host, log_lines,
                        logs_api, metrics_api, place_order, record_figures, send_counted, site, stored_counted,
                        traces_api, unit_properties, wait_for)

PINS = yaml.safe_load((REPO / "lab" / "versions.yml").read_text())
# Each component: its unit (also its install tree's name) and the command that prints its version.
COMPONENTS = {
    "otel_collector": {"unit": "otelcol", "version_command": "/usr/local/bin/otelcol-contrib --version"},
    "jaeger": {"unit": "jaeger", "version_command": "/usr/local/bin/jaeger version"},
    "prometheus": {"unit": "prometheus", "version_command": "/usr/local/bin/prometheus --version"},
    "victorialogs": {"unit": "victorialogs", "version_command": "/usr/local/bin/victoria-logs-prod -version"},
}
# What each backend stores of the counted data.
SIGNAL_OF = {"jaeger": "traces", "prometheus": "metrics", "victorialogs": "logs"}
DEMO_UNITS = ("shop-front", "shop-back")
INSTALL_ROOT = "/opt/observability-lgtm"
# systemd's journal message "Started <unit>" (SD_MESSAGE_UNIT_STARTED): one per start of a unit.
UNIT_STARTED = "39f53479d3a045ac8e11786248231fbf"
RATE, SECONDS = 20, 5           # counted data: spans, log records, metric points a second, for 5 s
SERVICE, METRIC = "upgrade", "upgrade_gen"
STORED_WAIT_S = 90              # the longest wait for a run's data to be stored in full
FIGURES: dict[str, Any] = {"components": {}}


def release_before(component: str) -> str:
    """N: the upgrade_from release, or the pinned one where none builds here."""
    return (PINS[component].get("upgrade_from") or {}).get("version", PINS[component]["version"])


def release_pinned(component: str) -> str:
    """N+1: what the role installs by default."""
    defaults = yaml.safe_load((REPO / "roles" / component / "defaults" / "main.yml").read_text())
    return defaults[f"{component}_version"]


UPGRADED = [name for name in COMPONENTS if release_before(name) != release_pinned(name)]
KEPT_UNITS = [COMPONENTS[name]["unit"] for name in COMPONENTS if name not in UPGRADED] + list(DEMO_UNITS)


@pytest.fixture(scope="module")
def lab() -> Any:
    return group_host("otel_collector")


@pytest.fixture(scope="module")
def apis() -> dict[str, Any]:
    return {"traces": traces_api("jaeger"), "logs": logs_api("victorialogs"), "metrics": metrics_api("prometheus")}


# --- what the host runs --------------------------------------------------------

def reports_version(lab: Any, component: str, version: str) -> bool:
    output = lab.check_output(COMPONENTS[component]["version_command"] + " 2>&1")
    return re.search(r"(?<![\d.])v?" + re.escape(version) + r"(?![\d.])", output) is not None


def running_binary(lab: Any, unit: str) -> str:
    """The file the unit's main process runs, links resolved. Read as the
    service's own user (each unit runs as the user of its name): root in the
    lab host lacks CAP_SYS_PTRACE, which reading another user's /proc/PID/exe needs."""
    pid = lab.check_output(f"systemctl show -p MainPID --value {unit}")
    return lab.check_output(f"setpriv --reuid={unit} --regid={unit} --clear-groups readlink -f /proc/{pid}/exe")


def journal_mark(lab: Any) -> str:
    """Now, on the lab host's clock, as `journalctl --since` takes it. (journalctl
    252 finds no match after --after-cursor once fields are matched too.)"""
    return "@" + lab.check_output("date +%s.%N")


def starts_since(lab: Any, mark: str, unit: str) -> int:
    """How many times systemd started the unit since the mark: its "Started"
    messages, which a restart logs too (a restart job ends as a start job)."""
    output = lab.check_output(f"journalctl --no-pager -o json --since '{mark}' "
                              f"_PID=1 UNIT={unit}.service MESSAGE_ID={UNIT_STARTED}")
    return len([line for line in output.splitlines() if line.strip()])


def unit_state(lab: Any, unit: str) -> dict[str, str]:
    return unit_properties(lab, unit, "InvocationID", "NRestarts", "ActiveState")


# --- counted data ----------------------------------------------------------------

def stored_in_full(apis: dict[str, Any], run_id: str, sent: dict[str, int], seconds: float) -> dict[str, int]:
    """What the backends store of a run, once it is all of what was sent or time runs out."""
    deadline = time.monotonic() + seconds
    counts = stored_counted(apis, run_id, SERVICE, METRIC)
    while counts != sent and time.monotonic() < deadline:
        time.sleep(2)
        counts = stored_counted(apis, run_id, SERVICE, METRIC)
    return counts


def send_run(lab: Any, apis: dict[str, Any], label: str) -> dict[str, Any]:
    """Send one counted run and wait until every backend stores all of it."""
    address = lab.check_output("hostname -I").split()[0]
    run_id = f"upg-{label}-{int(time.time())}-{secrets.token_hex(3)}"
    sent = send_counted(address, run_id, SECONDS, RATE, service=SERVICE, metric=METRIC)
    return {"run_id": run_id, "sent": sent, "stored": stored_in_full(apis, run_id, sent, STORED_WAIT_S)}


# --- the sequence ------------------------------------------------------------------

@pytest.fixture(scope="module", autouse=True)
def figures() -> Any:
    """Prints and keeps what the checks measured (the FIGURES line), whatever they found."""
    yield FIGURES
    timings = converge_timings()
    FIGURES["converge_n_s"] = timings[-1] if timings else None
    record_figures(FIGURES)


@pytest.fixture(scope="module")
def before(lab: Any, apis: dict[str, Any]) -> dict[str, Any]:
    """Step 1: N runs and holds counted data and a traced order."""
    for component in COMPONENTS:
        assert reports_version(lab, component, release_before(component)), (
            f"{component} does not run its release before the pinned one ({release_before(component)}): "
            + lab.check_output(COMPONENTS[component]["version_command"] + " 2>&1"))
    counted = send_run(lab, apis, "before")
    assert counted["stored"] == counted["sent"], f"before the upgrade, not everything sent was stored: {counted}"
    demo = group_host("demo")
    trace_id = place_order(demo, f"upgrade-{int(time.time())}")
    spans = wait_for(lambda: complete_trace(apis["traces"], trace_id), seconds=60)
    assert spans, apis["traces"].explain(f"the order's trace {trace_id} is not complete in Jaeger", spans)
    logs = wait_for(lambda: log_lines(apis["logs"], "shop-front", trace_id), seconds=60)
    assert logs, apis["logs"].explain(f"no log line of shop-front carries the trace ID {trace_id}", logs)
    return {"counted": counted, "trace_id": trace_id, "spans": len(spans), "log_lines": len(logs)}


@pytest.fixture(scope="module")
def check_preview(lab: Any, before: dict[str, Any]) -> dict[str, Any]:
    """Step 2: site.yml --check with the roles' defaults, before the upgrade."""
    states = {unit: unit_state(lab, unit) for unit in [c["unit"] for c in COMPONENTS.values()] + list(DEMO_UNITS)}
    mark = journal_mark(lab)
    started = time.monotonic()
    run = site("--check")
    seconds = round(time.monotonic() - started, 1)
    assert run.returncode == 0, failed_tasks(run)
    return {"run": run, "seconds": seconds, "mark": mark, "states": states}


@pytest.fixture(scope="module")
def upgraded(lab: Any, check_preview: dict[str, Any]) -> dict[str, Any]:
    """Step 3: site.yml with the roles' defaults (N+1): the upgrade."""
    states = {unit: unit_state(lab, unit) for unit in check_preview["states"]}
    mark = journal_mark(lab)
    started = time.monotonic()
    run = site()
    seconds = round(time.monotonic() - started, 1)
    assert run.returncode == 0, failed_tasks(run)
    FIGURES.update(upgrade_run_s=seconds, upgrade_run_changed=changed_counts(run))
    return {"run": run, "seconds": seconds, "mark": mark, "states": states}


# --- the checks ---------------------------------------------------------------------

def test_check_mode_previews_the_upgrade_and_changes_nothing(lab, check_preview):
    changed = changed_counts(check_preview["run"])
    assert changed and all(count > 0 for count in changed.values()), (
        f"check mode showed no change for the upgrade: {changed}")
    for component in COMPONENTS:
        assert reports_version(lab, component, release_before(component)), f"check mode changed {component}'s binary"
    for unit, state in check_preview["states"].items():
        assert starts_since(lab, check_preview["mark"], unit) == 0, f"check mode started {unit}"
        assert unit_state(lab, unit)["InvocationID"] == state["InvocationID"], f"check mode restarted {unit}"
    FIGURES.update(check_mode_s=check_preview["seconds"], check_mode_changed=changed)


def test_each_upgraded_binary_reports_and_runs_the_pinned_release(lab, upgraded):
    assert UPGRADED, "no component has an earlier release in lab/versions.yml to upgrade from"
    for component in COMPONENTS:
        unit, version = COMPONENTS[component]["unit"], release_pinned(component)
        assert reports_version(lab, component, version), lab.check_output(
            COMPONENTS[component]["version_command"] + " 2>&1")
        assert running_binary(lab, unit).startswith(f"{INSTALL_ROOT}/{unit}/{version}/"), (
            f"{unit} runs {running_binary(lab, unit)}, not its {version} tree")


def test_each_upgraded_service_started_exactly_once_and_no_other(lab, upgraded):
    for component, spec in COMPONENTS.items():
        unit = spec["unit"]
        starts = starts_since(lab, upgraded["mark"], unit)
        state = unit_state(lab, unit)
        FIGURES["components"][component] = {
            "from": release_before(component), "to": release_pinned(component), "starts_during_upgrade": starts,
            "invocation_changed": state["InvocationID"] != upgraded["states"][unit]["InvocationID"],
            "automatic_restarts": int(state["NRestarts"])}
    for component in COMPONENTS:
        unit, figures = COMPONENTS[component]["unit"], FIGURES["components"][component]
        assert unit_state(lab, unit)["ActiveState"] == "active", unit
        assert figures["automatic_restarts"] == 0, f"{unit} crashed and was restarted by systemd: {figures}"
        if component in UPGRADED:
            assert figures["starts_during_upgrade"] == 1 and figures["invocation_changed"], (component, figures)
        else:
            assert figures["starts_during_upgrade"] == 0 and not figures["invocation_changed"], (component, figures)
    for unit in DEMO_UNITS:
        assert starts_since(lab, upgraded["mark"], unit) == 0, f"the upgrade restarted {unit}"


def test_no_install_tree_of_the_old_release_is_left(lab, upgraded):
    for component in UPGRADED:
        unit = COMPONENTS[component]["unit"]
        trees = sorted(lab.check_output(f"ls {INSTALL_ROOT}/{unit}").split())
        assert trees == sorted([release_pinned(component), "current"]), f"{unit}: {trees}"


def test_data_written_before_the_upgrade_is_queryable_after_it(lab, apis, before, upgraded):
    counted = before["counted"]
    after = stored_in_full(apis, counted["run_id"], counted["sent"], 60)
    for component, signal in SIGNAL_OF.items():
        FIGURES["components"].setdefault(component, {}).update(
            signal=signal, data_before_upgrade=counted["stored"][signal], data_after_upgrade=after[signal])
    assert after == counted["sent"], f"sent {counted['sent']}, stored before {counted['stored']}, after {after}"
    spans = complete_trace(apis["traces"], before["trace_id"])
    assert spans and len(spans) == before["spans"], apis["traces"].explain(
        f"the order's trace {before['trace_id']} ({before['spans']} spans before) after the upgrade", spans)
    logs = log_lines(apis["logs"], "shop-front", before["trace_id"])
    assert len(logs) == before["log_lines"], apis["logs"].explain("the order's log lines after the upgrade", logs)


def test_new_data_flows_through_the_upgraded_stack(lab, apis, upgraded):
    counted = send_run(lab, apis, "after")
    FIGURES["components"].setdefault("otel_collector", {}).update(new_data_after_upgrade=counted)
    for component, signal in SIGNAL_OF.items():
        FIGURES["components"].setdefault(component, {}).update(new_data_after_upgrade=counted["stored"][signal])
    assert counted["stored"] == counted["sent"], f"after the upgrade: {counted}"


def test_a_second_run_changes_nothing(lab, upgraded):
    mark = journal_mark(lab)
    started = time.monotonic()
    run = site()
    seconds = round(time.monotonic() - started, 1)
    assert run.returncode == 0, failed_tasks(run)
    changed = changed_counts(run)
    FIGURES.update(rerun_s=seconds, rerun_changed=changed)
    assert changed and all(count == 0 for count in changed.values()), failed_tasks(run)
    for unit in [c["unit"] for c in COMPONENTS.values()] + list(DEMO_UNITS):
        assert starts_since(lab, mark, unit) == 0, f"the second run started {unit}"
