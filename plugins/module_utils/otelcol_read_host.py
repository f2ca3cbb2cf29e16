# -*- coding: utf-8 -*-
# Copyright: observability.lgtm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Stage 2, read (host telemetry): what an agent collects from its own host.

The ``hostmetrics``, ``filelog`` and ``journald`` receivers and the spec's
``resource_detection``. Each reader checks every key and value it is given and
raises ``SpecError`` naming the spec path; none reads the host.
"""

from __future__ import annotations

import re
from typing import Any, List, Mapping, Optional

from ansible_collections.observability.lgtm.plugins.module_utils.otelcol_facts import (
    FILELOG_FORMATS, FILELOG_ON_TRUNCATE, FILELOG_START_AT, HOSTMETRICS_ALL_SCRAPERS, HOSTMETRICS_SCRAPERS,
    JOURNALD_PRIORITIES, RESOURCE_DETECTORS, SYSLOG_PROTOCOLS,
)
from ansible_collections.observability.lgtm.plugins.module_utils.otelcol_spec import (
    FileLogSpec, HostMetricsSpec, JournaldSpec, Problems, ReceiverSpec, ResourceDetectionSpec, SpecError,
)
from ansible_collections.observability.lgtm.plugins.module_utils.otelcol_values import (
    check_keys, read_absolute_path, read_bool, read_distinct, read_mapping, read_positive_duration, read_str,
    read_str_list,
)


def read_globs(value: Any, path: str) -> List[str]:
    """A list of absolute file globs."""
    problems = Problems()
    globs = [problems.attempt(read_absolute_path, item, f"{path}[{index}]")
             for index, item in enumerate(read_str_list(value, path))]
    problems.raise_if_any()
    return globs


def read_regex(value: Any, path: str, named_groups: bool = False) -> str:
    """A regular expression the collector can compile (Go's RE2 is close enough to Python's for this check)."""
    text = read_str(value, path)
    try:
        # Go also spells a named group (?<name>...), which Python 3.11 does not read.
        compiled = re.compile(re.sub(r"\(\?<(?=[A-Za-z_])", "(?P<", text))
    except re.error as error:
        raise SpecError(f"{path}: {text!r} is not a regular expression: {error}") from None
    if named_groups and not compiled.groupindex:
        raise SpecError(f"{path}: {text!r} has no named group; each (?P<name>...) becomes an attribute")
    return text


def read_host_metrics(mapping: Mapping, path: str) -> HostMetricsSpec:
    """receivers.hostmetrics: collection_interval, scrapers, per_process, root_path."""
    check_keys(mapping, path, ("collection_interval", "scrapers", "per_process", "root_path"))
    problems = Problems()
    spec = HostMetricsSpec(scrapers=list(HOSTMETRICS_SCRAPERS))
    if "collection_interval" in mapping:
        spec.collection_interval = problems.attempt(read_positive_duration, mapping["collection_interval"],
                                                    f"{path}.collection_interval", default=spec.collection_interval)
    if "scrapers" in mapping:
        def refusal(name: str) -> Optional[str]:
            if name == "process":
                return (f"(the per-process scraper) multiplies series by the host's process count; turn it on with "
                        f"{path}.per_process: true")
            if name not in HOSTMETRICS_ALL_SCRAPERS:
                return f"is not a scraper; accepted: {', '.join(HOSTMETRICS_ALL_SCRAPERS)}"
            return None
        scrapers = problems.attempt(read_distinct, mapping["scrapers"], f"{path}.scrapers", refusal)
        if scrapers == []:
            problems.add(f"{path}.scrapers: empty; name at least one scraper or leave the key out for the defaults")
        spec.scrapers = scrapers or []
    if problems.attempt(read_bool, mapping.get("per_process", False), f"{path}.per_process"):
        spec.scrapers.append("process")
    if mapping.get("root_path") is not None:
        spec.root_path = problems.attempt(read_absolute_path, mapping["root_path"], f"{path}.root_path")
    problems.raise_if_any()
    return spec


def read_multiline(value: Any, path: str) -> dict:
    """multiline: exactly one of line_start_pattern or line_end_pattern."""
    mapping = read_mapping(value, path)
    check_keys(mapping, path, ("line_start_pattern", "line_end_pattern"))
    if len(mapping) != 1:
        raise SpecError(f"{path}: give exactly one of line_start_pattern (a new entry starts where it matches) "
                        f"or line_end_pattern")
    key, pattern = next(iter(mapping.items()))
    return {key: read_regex(pattern, f"{path}.{key}")}


def read_file_log(mapping: Mapping, path: str) -> FileLogSpec:
    """receivers.filelog: which files, where reading starts, how lines are parsed, where offsets are kept."""
    check_keys(mapping, path, ("include", "exclude", "start_at", "format", "regex", "syslog_protocol", "multiline",
                               "on_truncate", "offsets_directory"))
    problems = Problems()
    if "include" not in mapping:
        problems.add(f"{path}.include: missing; give the files to read as absolute globs, e.g. [/var/log/app/*.log]")
    include = problems.attempt(read_globs, mapping.get("include", []), f"{path}.include", default=[]) or []
    if "include" in mapping and not include and not problems.items:
        problems.add(f"{path}.include: empty; give at least one absolute glob")
    spec = FileLogSpec(include=include, offsets_directory="")
    if "exclude" in mapping:
        spec.exclude = problems.attempt(read_globs, mapping["exclude"], f"{path}.exclude", default=[]) or []
    for key, choices in (("start_at", FILELOG_START_AT), ("syslog_protocol", SYSLOG_PROTOCOLS),
                         ("on_truncate", FILELOG_ON_TRUNCATE)):
        if key in mapping:
            setattr(spec, key, problems.attempt(read_str, mapping[key], f"{path}.{key}", choices,
                                                default=getattr(spec, key)))
    if "format" in mapping:
        spec.format = problems.attempt(read_str, mapping["format"], f"{path}.format", ("plain", *FILELOG_FORMATS),
                                       default="plain")
    if spec.format == "regex":
        if "regex" not in mapping:
            problems.add(f"{path}.regex: format regex needs a regex with named groups, e.g. "
                         f"'^(?P<time>\\S+) (?P<level>\\S+) (?P<message>.*)$'")
        else:
            spec.regex = problems.attempt(read_regex, mapping["regex"], f"{path}.regex", named_groups=True)
    elif "regex" in mapping:
        problems.add(f"{path}.regex: only read with format regex (the format is {spec.format!r})")
    if "syslog_protocol" in mapping and spec.format != "syslog":
        problems.add(f"{path}.syslog_protocol: only read with format syslog (the format is {spec.format!r})")
    if mapping.get("multiline") is not None:
        spec.multiline = problems.attempt(read_multiline, mapping["multiline"], f"{path}.multiline", default={}) or {}
        if spec.format == "container":
            problems.add(f"{path}.multiline: the container format joins the runtime's partial lines itself; "
                         f"leave multiline out")
    if mapping.get("offsets_directory") is not None:
        spec.offsets_directory = problems.attempt(read_absolute_path, mapping["offsets_directory"],
                                                  f"{path}.offsets_directory", default="")
    problems.raise_if_any()
    return spec


def read_journald(mapping: Mapping, path: str) -> JournaldSpec:
    """receivers.journald: units, priority, the journal's directory, where reading starts."""
    check_keys(mapping, path, ("units", "priority", "directory", "start_at", "offsets_directory"))
    problems = Problems()
    spec = JournaldSpec()
    if "units" in mapping:
        spec.units = problems.attempt(read_str_list, mapping["units"], f"{path}.units", default=[]) or []
    if "priority" in mapping:
        spec.priority = problems.attempt(read_str, mapping["priority"], f"{path}.priority", JOURNALD_PRIORITIES,
                                         default=spec.priority)
    if "start_at" in mapping:
        spec.start_at = problems.attempt(read_str, mapping["start_at"], f"{path}.start_at", FILELOG_START_AT,
                                         default=spec.start_at)
    for key in ("directory", "offsets_directory"):
        if mapping.get(key) is not None:
            setattr(spec, key, problems.attempt(read_absolute_path, mapping[key], f"{path}.{key}"))
    problems.raise_if_any()
    return spec


def read_resource_detection(spec: Mapping) -> Optional[ResourceDetectionSpec]:
    """spec.resource_detection: the detectors (system, env), override, timeout; None when absent."""
    if spec.get("resource_detection") is None:
        return None
    path = "spec.resource_detection"
    mapping = read_mapping(spec["resource_detection"], path)
    check_keys(mapping, path, ("detectors", "override", "timeout", "pipelines"))
    problems = Problems()
    refusal = (f"is not accepted; accepted: {', '.join(RESOURCE_DETECTORS)} (cloud detectors ask metadata "
               f"services that exist only in their clouds)")
    detectors = problems.attempt(read_distinct, mapping.get("detectors", list(RESOURCE_DETECTORS)),
                                 f"{path}.detectors", lambda name: None if name in RESOURCE_DETECTORS else refusal,
                                 default=[]) or []
    if not detectors and not problems.items:
        problems.add(f"{path}.detectors: empty; name system, env or both, or leave resource_detection out")
    result = ResourceDetectionSpec(detectors=detectors)
    if "override" in mapping:
        result.override = problems.attempt(read_bool, mapping["override"], f"{path}.override", default=False)
    if "timeout" in mapping:
        result.timeout = problems.attempt(read_positive_duration, mapping["timeout"], f"{path}.timeout",
                                          default=result.timeout)
    if mapping.get("pipelines") is not None:
        result.pipelines = problems.attempt(read_str_list, mapping["pipelines"], f"{path}.pipelines")
        pipelines = spec.get("pipelines") if isinstance(spec.get("pipelines"), Mapping) else {}
        for index, name in enumerate(result.pipelines or []):
            if name not in pipelines:
                problems.add(f"{path}.pipelines[{index}]: {name!r} is not a pipeline of spec.pipelines")
        if result.pipelines == [] and not problems.items:
            problems.add(f"{path}.pipelines: empty; name the pipelines, or leave the key out for every pipeline")
    problems.raise_if_any()
    return result


def settle_offsets_directory(receiver: ReceiverSpec, persistent_directory: Optional[str]) -> None:
    """Where a log receiver keeps its read offsets: its own offsets_directory, else the persistent queue's.

    A file log read without stored offsets starts again from `start_at` after every restart: lines
    are lost (end) or read twice (beginning). So filelog needs one; journald keeps its cursor there
    when one is known.
    """
    if receiver.file_log is not None and not receiver.file_log.offsets_directory:
        if persistent_directory is None:
            raise SpecError(f"{receiver.path}.offsets_directory: missing; a restart would lose or repeat lines "
                            f"without stored read offsets. Give it, or turn on spec.persistent_queue (its "
                            f"directory is used)")
        receiver.file_log.offsets_directory = persistent_directory
    if receiver.journald is not None and receiver.journald.offsets_directory is None:
        receiver.journald.offsets_directory = persistent_directory
