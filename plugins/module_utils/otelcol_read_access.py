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

import re
from typing import Any, List, Mapping, Tuple

from ansible_collections.observability.lgtm.plugins.module_utils.otelcol_facts import (
    ENV_REFERENCE_PATTERN, SERVICE_ACCOUNT_CA_FILE, SERVICE_ACCOUNT_TOKEN_FILE,
)
from ansible_collections.observability.lgtm.plugins.module_utils.otelcol_spec import Config, Problems, SpecError
from ansible_collections.observability.lgtm.plugins.module_utils.otelcol_values import (
    check_keys, parse_host_port, read_bool, read_duration, read_int, read_mapping, read_name, read_port_number,
    read_str, read_str_list,
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


# A target's host may be an environment variable the collector expands when it
# starts (a node agent's own node: "${env:K8S_NODE_IP}:10250").
ENV_HOST_PATTERN = re.compile(ENV_REFERENCE_PATTERN + r":([0-9]+)")
ENV_REFERENCE = re.compile(ENV_REFERENCE_PATTERN)


def read_scrape_target(value: Any, path: str) -> str:
    """A scrape target: "host:port", or "${env:NAME}:port" where the host is read from the environment."""
    text = read_str(value, path)
    match = ENV_HOST_PATTERN.fullmatch(text)
    if match is None:
        parse_host_port(text, path)
    else:
        read_port_number(match.group(2), path)
    return text


# A Prometheus metric name: matched whole by a relabel regex, so it needs no escaping.
METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")


def keep_metrics(value: Any, path: str) -> Config:
    """The relabel rule that keeps only the named metrics of a job (an endpoint that exposes more
    series than anyone reads, such as cAdvisor's: every container times every metric)."""
    names = read_str_list(value, path)
    if not names:
        raise SpecError(f"{path}: expected a non-empty list of metric names")
    for index, name in enumerate(names):
        if not METRIC_NAME.fullmatch(name):
            raise SpecError(f"{path}[{index}]: {name!r} is not a metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)")
    return {"source_labels": ["__name__"], "regex": "|".join(dict.fromkeys(names)), "action": "keep"}


def read_scrape_access(mapping: Mapping[str, Any], path: str, scheme: str) -> Config:
    """A scrape job's TLS and credentials: tls_config (ca_file, insecure_skip_verify), basic_auth, or
    authorization from a token file (bearer_token_file, or the pod's service account on Kubernetes)."""
    access: Config = {}
    if "ca_file" in mapping:
        if scheme != "https":
            raise SpecError(f"{path}.ca_file: only with scheme 'https'")
        access["tls_config"] = {"ca_file": read_str(mapping["ca_file"], f"{path}.ca_file")}
    if read_bool(mapping.get("insecure_skip_verify", False), f"{path}.insecure_skip_verify"):
        if scheme != "https" or "ca_file" in mapping:
            raise SpecError(f"{path}.insecure_skip_verify: only with scheme 'https' and without ca_file (a "
                            f"certificate that is not checked needs no CA)")
        access["tls_config"] = {"insecure_skip_verify": True}
    if read_bool(mapping.get("service_account", False), f"{path}.service_account"):
        # On Kubernetes: the pod's own service account token, and the cluster's CA
        # for the server's certificate (unless the certificate is not checked).
        clashing = [key for key in ("ca_file", "bearer_token_file", "basic_auth") if key in mapping]
        if scheme != "https" or clashing:
            raise SpecError(f"{path}.service_account: only with scheme 'https' and without ca_file, "
                            f"bearer_token_file and basic_auth (it sets the CA and the token itself)")
        mapping = dict(mapping, bearer_token_file=SERVICE_ACCOUNT_TOKEN_FILE)
        if "tls_config" not in access:
            access["tls_config"] = {"ca_file": SERVICE_ACCOUNT_CA_FILE}
    if "basic_auth" in mapping and "bearer_token_file" in mapping:
        raise SpecError(f"{path}: basic_auth and bearer_token_file are both sent as the Authorization header; "
                        f"give one of the two")
    if "basic_auth" in mapping:
        if scheme != "https":
            raise SpecError(f"{path}.basic_auth: credentials are sent only over scheme 'https'")
        username, password = read_auth(mapping["basic_auth"], f"{path}.basic_auth")
        access["basic_auth"] = {"username": username, "password": password}
    if "bearer_token_file" in mapping:
        if scheme != "https":
            raise SpecError(f"{path}.bearer_token_file: credentials are sent only over scheme 'https'")
        token_file = read_str(mapping["bearer_token_file"], f"{path}.bearer_token_file")
        if not token_file.startswith("/"):
            raise SpecError(f"{path}.bearer_token_file: expected an absolute path, got {token_file!r}")
        # Read again before every scrape, so a rotated token (a projected service account token) is picked up.
        access["authorization"] = {"type": "Bearer", "credentials_file": token_file}
    return access


# A label a scrape job may set on its targets' series: Prometheus' label names, less the reserved ones
# (`__` first) and the two the scrape itself sets.
TARGET_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
SCRAPE_SET_LABELS = ("job", "instance")


def read_target_labels(value: Any, path: str) -> Config:
    """A scrape job's `labels`: names and values every series of its targets carries (which component a
    target is, where several share one job label)."""
    labels = read_mapping(value, path)  # its keys are strings
    if not labels:
        raise SpecError(f"{path}: expected a mapping of at least one label name to its value")
    for name, label_value in labels.items():
        if not TARGET_LABEL_NAME.fullmatch(name) or name.startswith("__"):
            raise SpecError(f"{path}: {name!r} is not a label name ([a-zA-Z_][a-zA-Z0-9_]*, not starting with '__')")
        if name in SCRAPE_SET_LABELS:
            raise SpecError(f"{path}.{name}: the scrape sets {name!r} itself (give the job label as the job's 'job')")
        read_str(label_value, f"{path}.{name}")
    return dict(labels)


SHARD_LABEL = "__tmp_lgtm_shard"


def scrape_shard(value: Any, path: str) -> List[Config]:
    """`shard: {count, index}`: of `count` collectors with the same job, this one (number `index`,
    from 0; a literal or ${env:NAME}) scrapes the targets whose address hashes to its number, so
    that each target is scraped once (twice, its series would be written over each other)."""
    mapping = read_mapping(value, path)
    check_keys(mapping, path, ("count", "index"))
    count = read_int(mapping.get("count"), f"{path}.count", minimum=1)
    index = mapping.get("index")
    if isinstance(index, bool) or not isinstance(index, (int, str)) or str(index) == "":
        raise SpecError(f"{path}.index: expected this collector's number (0 to {count - 1}) or ${{env:NAME}}, "
                        f"got {index!r}")
    if isinstance(index, int) or str(index).isdigit():
        if not 0 <= int(index) < count:
            raise SpecError(f"{path}.index: {index} is not between 0 and {count - 1}")
    elif not ENV_REFERENCE.fullmatch(str(index)):
        raise SpecError(f"{path}.index: {index!r} is neither a number nor ${{env:NAME}}")
    return [{"source_labels": ["__address__"], "modulus": count, "target_label": SHARD_LABEL, "action": "hashmod"},
            {"source_labels": [SHARD_LABEL], "regex": str(index), "action": "keep"}]


def read_scrape_job(value: Any, path: str) -> Config:
    """One prometheus scrape job, rendered as a scrape config."""
    mapping = read_mapping(value, path)
    check_keys(mapping, path, ("job_name", "job", "instance", "shard", "targets", "labels", "scrape_interval",
                               "metrics_path", "scheme", "ca_file", "insecure_skip_verify", "basic_auth",
                               "bearer_token_file", "service_account", "keep_metrics"))
    targets = read_str_list(mapping.get("targets"), f"{path}.targets")
    if not targets:
        raise SpecError(f"{path}.targets: expected at least one 'host:port' target")
    for index, target in enumerate(targets):
        read_scrape_target(target, f"{path}.targets[{index}]")
    job: Config = {
        "job_name": read_name(mapping.get("job_name"), f"{path}.job_name"),
        "scrape_interval": read_duration(mapping.get("scrape_interval", "30s"), f"{path}.scrape_interval"),
        "static_configs": [{"targets": targets}],
        "metric_relabel_configs": [DROP_TARGET_INFO],
    }
    if "labels" in mapping:
        job["static_configs"][0]["labels"] = read_target_labels(mapping["labels"], f"{path}.labels")
    if "keep_metrics" in mapping:
        job["metric_relabel_configs"].append(keep_metrics(mapping["keep_metrics"], f"{path}.keep_metrics"))
    if "metrics_path" in mapping:
        metrics_path = read_str(mapping["metrics_path"], f"{path}.metrics_path")
        if not metrics_path.startswith("/"):
            raise SpecError(f"{path}.metrics_path: must start with '/', got {metrics_path!r}")
        job["metrics_path"] = metrics_path
    relabel: List[Config] = []
    if "job" in mapping:
        # Several jobs (one per scheme or credential) can share one job label.
        relabel.append({"target_label": "job", "replacement": read_str(mapping["job"], f"{path}.job")})
    if "instance" in mapping:
        # Where the address says the same on several collectors (each one's own 127.0.0.1:8888).
        relabel.append({"target_label": "instance", "replacement": read_str(mapping["instance"], f"{path}.instance")})
    if "shard" in mapping:
        relabel.extend(scrape_shard(mapping["shard"], f"{path}.shard"))
    if relabel:
        job["relabel_configs"] = relabel
    scheme = read_str(mapping.get("scheme", "http"), f"{path}.scheme", ("http", "https"))
    if scheme == "https":
        job["scheme"] = "https"
    job.update(read_scrape_access(mapping, path, scheme))
    return job
