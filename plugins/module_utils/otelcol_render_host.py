# -*- coding: utf-8 -*-
# Copyright: observability.lgtm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Stage 3, render (host telemetry): the receivers and processor an agent runs for its own host.

Keys are those of the contrib modules at v0.159.0 (receiver/hostmetricsreceiver,
receiver/filelogreceiver with pkg/stanza, receiver/journaldreceiver,
processor/resourcedetectionprocessor).
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from ansible_collections.observability.lgtm.plugins.module_utils.otelcol_facts import (
    FILELOG_FORMATS, HOSTMETRICS_EXCLUDED_MOUNT_POINTS, HOSTMETRICS_VIRTUAL_FS_TYPES, rendered_component_id,
)
from ansible_collections.observability.lgtm.plugins.module_utils.otelcol_spec import (
    Config, FileLogSpec, HostMetricsSpec, JournaldSpec, ReceiverSpec, ResourceDetectionSpec, Spec, Version,
)


def receiver_rendered_id(receiver: ReceiverSpec, version: Version) -> str:
    """A receiver's id in the rendered config."""
    return rendered_component_id("receivers", receiver.component_id, receiver.type, version)


def offsets_storage_id(receiver: ReceiverSpec) -> str:
    """The file_storage extension that keeps one log receiver's read offsets."""
    return f"file_storage/{receiver.component_id.replace('/', '_')}"


def render_host_metrics(spec: HostMetricsSpec) -> Config:
    """hostmetrics: each scraper; filesystems that are not disks left out."""
    scrapers: Dict[str, Any] = {}
    for name in spec.scrapers:
        scrapers[name] = {}
    if "filesystem" in scrapers:
        scrapers["filesystem"] = {
            "exclude_fs_types": {"fs_types": list(HOSTMETRICS_VIRTUAL_FS_TYPES), "match_type": "strict"},
            "exclude_mount_points": {"mount_points": list(HOSTMETRICS_EXCLUDED_MOUNT_POINTS), "match_type": "regexp"},
        }
    if "process" in scrapers:
        # Short-lived and other users' processes cannot always be read; one such process must not fail a scrape.
        scrapers["process"] = {"mute_process_all_errors": True}
    config: Config = {"collection_interval": spec.collection_interval, "scrapers": scrapers}
    if spec.root_path is not None:
        config["root_path"] = spec.root_path
    return config


def file_log_operators(spec: FileLogSpec) -> List[Config]:
    """The parser for the spec's format (none for plain lines: the line is the body)."""
    if spec.format == "plain":
        return []
    operator: Config = {"type": FILELOG_FORMATS[spec.format]}
    if spec.format == "regex":
        operator["regex"] = spec.regex
    elif spec.format == "syslog":
        operator["protocol"] = spec.syslog_protocol
    return [operator]


def render_file_log(receiver: ReceiverSpec, spec: FileLogSpec) -> Config:
    """filelog: the files, where reading starts, the offsets' storage, rotation, the parser."""
    config: Config = {
        "include": list(spec.include),
        "start_at": spec.start_at,
        "storage": offsets_storage_id(receiver),
        "include_file_path": True,
        "on_truncate": spec.on_truncate,
    }
    if spec.exclude:
        config["exclude"] = list(spec.exclude)
    if spec.multiline:
        config["multiline"] = dict(spec.multiline)
    operators = file_log_operators(spec)
    if operators:
        config["operators"] = operators
    return config


def render_journald(receiver: ReceiverSpec, spec: JournaldSpec) -> Config:
    """journald: units, priority, directory; the cursor stored where offsets are kept."""
    config: Config = {"priority": spec.priority, "start_at": spec.start_at}
    if spec.units:
        config["units"] = list(spec.units)
    if spec.directory is not None:
        config["directory"] = spec.directory
    if receiver.offsets_directory is not None:
        config["storage"] = offsets_storage_id(receiver)
    return config


def render_host_receiver(receiver: ReceiverSpec) -> Optional[Config]:
    """A host receiver's config; None for the other receiver types."""
    if receiver.host_metrics is not None:
        return render_host_metrics(receiver.host_metrics)
    if receiver.file_log is not None:
        return render_file_log(receiver, receiver.file_log)
    if receiver.journald is not None:
        return render_journald(receiver, receiver.journald)
    return None


def file_storage_extension(directory: str) -> Config:
    """A file_storage extension in a folder the collector creates if missing (the disk queue's, offsets')."""
    return {"directory": directory, "create_directory": True, "timeout": "1s"}


def offsets_extensions(spec: Spec) -> Config:
    """One file_storage extension per log receiver that keeps offsets."""
    extensions: Config = {}
    for receiver in spec.receivers.values():
        directory = receiver.offsets_directory
        if directory is not None:
            extensions[offsets_storage_id(receiver)] = file_storage_extension(directory)
    return extensions


def render_resource_detection(detection: ResourceDetectionSpec) -> Config:
    """resourcedetection: the host's name from the OS (no DNS lookup of it), and OTEL_RESOURCE_ATTRIBUTES."""
    config: Config = {"detectors": list(detection.detectors), "override": detection.override,
                      "timeout": detection.timeout}
    if "system" in detection.detectors:
        config["system"] = {"hostname_sources": ["os"]}
    return config
