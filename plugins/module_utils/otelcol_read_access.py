# -*- coding: utf-8 -*-
# Copyright: observability.lgtm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Stage 2, read (access): who may talk to whom.

Basic-auth credentials (a backend's ``auth``, a scrape job's ``basic_auth``),
the bearer tokens an OTLP receiver accepts, and the prometheus receiver's
scrape jobs (scheme, CA, credentials). Credentials are refused over plain
HTTP: the rules that need the receiver's TLS are in ``otelcol_read``.
"""

from __future__ import annotations

from typing import Any, List, Tuple

from ansible_collections.observability.lgtm.plugins.module_utils.otelcol_spec import Config, Problems, SpecError
from ansible_collections.observability.lgtm.plugins.module_utils.otelcol_values import (
    check_keys, parse_host_port, read_duration, read_mapping, read_name, read_str, read_str_list,
)


def read_auth(value: Any, path: str) -> Tuple[str, str]:
    """Basic-auth username and password."""
    auth = read_mapping(value, path)
    problems = Problems()
    problems.attempt(check_keys, auth, path, ("username", "password"))
    username = problems.attempt(read_str, auth.get("username"), f"{path}.username")
    password = problems.attempt(read_str, auth.get("password"), f"{path}.password")
    # Basic auth sends "username:password" in base64: the server splits at the first colon (RFC 7617).
    if isinstance(username, str) and ":" in username:
        problems.add(f"{path}.username: {username!r} contains ':', which basic auth cannot carry (the server reads "
                     f"the name up to the first ':' and the rest as the password)")
    problems.raise_if_any()
    return username, password


def read_receiver_auth(value: Any, path: str) -> List[str]:
    """A receiver's authentication: the bearer tokens it accepts (one, or several while rotating)."""
    mapping = read_mapping(value, path)
    check_keys(mapping, path, ("bearer_tokens",))
    tokens = read_str_list(mapping.get("bearer_tokens"), f"{path}.bearer_tokens")
    if not tokens or any(not token for token in tokens):
        raise SpecError(f"{path}.bearer_tokens: expected a non-empty list of non-empty tokens")
    return tokens


# A target instrumented with OpenTelemetry (the collector's own metrics, Jaeger)
# exposes its resource as `target_info`; the prometheus receiver would make that
# the series' resource, replacing the job and instance the scrape config gives
# them (a collector scraped as job "lgtm-stack" shows up as "otelcol-contrib"
# with a random instance). Dropped in the scrape loop, before the receiver.
DROP_TARGET_INFO: Config = {"source_labels": ["__name__"], "regex": "target_info", "action": "drop"}


def read_scrape_job(value: Any, path: str) -> Config:
    """One prometheus scrape job, rendered as a scrape config."""
    mapping = read_mapping(value, path)
    check_keys(mapping, path, ("job_name", "job", "targets", "scrape_interval", "metrics_path", "scheme", "ca_file",
                               "basic_auth"))
    targets = read_str_list(mapping.get("targets"), f"{path}.targets")
    if not targets:
        raise SpecError(f"{path}.targets: expected at least one 'host:port' target")
    for index, target in enumerate(targets):
        parse_host_port(target, f"{path}.targets[{index}]")
    job: Config = {
        "job_name": read_name(mapping.get("job_name"), f"{path}.job_name"),
        "scrape_interval": read_duration(mapping.get("scrape_interval", "30s"), f"{path}.scrape_interval"),
        "static_configs": [{"targets": targets}],
        "metric_relabel_configs": [DROP_TARGET_INFO],
    }
    if "metrics_path" in mapping:
        metrics_path = read_str(mapping["metrics_path"], f"{path}.metrics_path")
        if not metrics_path.startswith("/"):
            raise SpecError(f"{path}.metrics_path: must start with '/', got {metrics_path!r}")
        job["metrics_path"] = metrics_path
    if "job" in mapping:
        # Several jobs (one per scheme or credential) can share one job label.
        job["relabel_configs"] = [{"target_label": "job", "replacement": read_str(mapping["job"], f"{path}.job")}]
    scheme = read_str(mapping.get("scheme", "http"), f"{path}.scheme", ("http", "https"))
    if scheme == "https":
        job["scheme"] = "https"
    if "ca_file" in mapping:
        if scheme != "https":
            raise SpecError(f"{path}.ca_file: only with scheme 'https'")
        job["tls_config"] = {"ca_file": read_str(mapping["ca_file"], f"{path}.ca_file")}
    if "basic_auth" in mapping:
        if scheme != "https":
            raise SpecError(f"{path}.basic_auth: credentials are sent only over scheme 'https'")
        username, password = read_auth(mapping["basic_auth"], f"{path}.basic_auth")
        job["basic_auth"] = {"username": username, "password": password}
    return job
