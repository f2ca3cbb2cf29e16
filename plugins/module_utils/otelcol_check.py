# -*- coding: utf-8 -*-
# Copyright: observability.lgtm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Stage 6, check: a final check of the rendered configuration after overrides.

Overrides can break what rendering guarantees (memory_limiter first, queues on
network exporters, every component defined and used once); this stage finds
that and names the ``config.`` path.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Dict, List, Tuple

from ansible_collections.observability.lgtm.plugins.module_utils.otelcol_spec import (
    Config, ListenAddress, Spec, SpecError,
)
from ansible_collections.observability.lgtm.plugins.module_utils.otelcol_facts import (
    COMPONENT_KINDS, SIGNALS, component_type,
)
from ansible_collections.observability.lgtm.plugins.module_utils.otelcol_values import (
    parse_host_port,
)
from ansible_collections.observability.lgtm.plugins.module_utils.otelcol_lint import (
    lint_port_clashes,
)


def check_rendered(config: Config, spec: Spec) -> List[str]:
    """Every problem of the configuration after overrides, each with its config path."""
    problems: List[str] = []
    hint = " (set through spec.overrides)"
    defined = {kind: config.get(kind) or {} for kind in COMPONENT_KINDS}
    for kind in COMPONENT_KINDS:
        if not isinstance(defined[kind], Mapping):
            problems.append(f"config.{kind}: must be a mapping{hint}")
            return problems
    service = config.get("service")
    if not isinstance(service, Mapping) or not isinstance(service.get("pipelines"), Mapping):
        return [f"config.service.pipelines: must be a mapping{hint}"]

    used: Dict[Tuple[str, str], set] = {}
    for pipeline_id, pipeline in service["pipelines"].items():
        path = f"config.service.pipelines.{pipeline_id}"
        if not isinstance(pipeline_id, str) or pipeline_id.split("/", 1)[0] not in SIGNALS:
            problems.append(f"{path}: unknown signal; accepted: traces, metrics, logs{hint}")
            continue
        if not isinstance(pipeline, Mapping):
            problems.append(f"{path}: must be a mapping{hint}")
            continue
        signal = pipeline_id.split("/", 1)[0]
        for role, kinds in (("receivers", ("receivers", "connectors")), ("processors", ("processors",)),
                            ("exporters", ("exporters", "connectors"))):
            items = pipeline.get(role) or []
            if not isinstance(items, list):
                problems.append(f"{path}.{role}: must be a list{hint}")
                continue
            for index, item in enumerate(items):
                if not isinstance(item, str):
                    problems.append(f"{path}.{role}[{index}]: expected a component id string, got {item!r}{hint}")
                    continue
                owner = next((kind for kind in kinds if item in defined[kind]), None)
                if owner is None:
                    problems.append(f"{path}.{role}[{index}]: {item!r} is not defined under "
                                    f"{' or '.join('config.' + kind for kind in kinds)}{hint}")
                    continue
                used.setdefault((owner, item), set()).add((role, signal))
        processor_list = string_items(pipeline.get("processors"))
        if not processor_list or processor_list[0] != "memory_limiter":
            problems.append(f"{path}.processors: memory_limiter must be the first processor{hint}")
        problems.extend(batching_problems(path, pipeline, defined))

    for kind in COMPONENT_KINDS:
        if kind == "extensions":
            continue
        for component_id in defined[kind]:
            if (kind, component_id) not in used:
                problems.append(f"config.{kind}.{component_id}: defined but not used by any pipeline{hint}")
    for component_id in defined["connectors"]:
        roles = {role for role, _signal in used.get(("connectors", component_id), set())}
        if roles and roles != {"receivers", "exporters"}:
            problems.append(f"config.connectors.{component_id}: a connector must be used both as an exporter and "
                            f"as a receiver{hint}")
    listed_extensions = service.get("extensions") or []
    if not isinstance(listed_extensions, list):
        problems.append(f"config.service.extensions: must be a list of extension ids{hint}")
        listed_extensions = []
    for index, extension_id in enumerate(listed_extensions):
        if not isinstance(extension_id, str):
            problems.append(f"config.service.extensions[{index}]: expected an extension id string, got "
                            f"{extension_id!r}{hint}")
        elif extension_id not in defined["extensions"]:
            problems.append(f"config.service.extensions[{index}]: {extension_id!r} is not defined under "
                            f"config.extensions{hint}")
    for extension_id in defined["extensions"]:
        if extension_id not in listed_extensions:
            problems.append(f"config.extensions.{extension_id}: defined but not listed in service.extensions{hint}")
    for exporter_id, exporter in defined["exporters"].items():
        problems.extend(exporter_problems(exporter_id, exporter, defined["extensions"], hint))
    problems.extend(rendered_port_clashes(config, hint))
    return problems


NETWORK_EXPORTER_TYPES = frozenset({"otlp", "otlphttp", "otlp_grpc", "otlp_http", "loadbalancing", "load_balancing"})


def exporter_problems(exporter_id: str, exporter: Any, extensions: Mapping, hint: str) -> List[str]:
    """A network exporter without its queue or retry, or a queue storage that is not defined."""
    path = f"config.exporters.{exporter_id}"
    if not isinstance(exporter, Mapping):
        return []
    problems = []
    type_name = component_type(exporter_id)
    if type_name in NETWORK_EXPORTER_TYPES:
        for key in ("sending_queue", "retry_on_failure"):
            if not isinstance(exporter.get(key), Mapping):
                problems.append(f"{path}.{key}: every network exporter needs {key}{hint}")
    queue = exporter.get("sending_queue")
    storage = queue.get("storage") if isinstance(queue, Mapping) else None
    if storage is not None and not isinstance(storage, str):
        problems.append(f"{path}.sending_queue.storage: expected an extension id string, got {storage!r}{hint}")
    elif storage is not None and storage not in extensions:
        problems.append(f"{path}.sending_queue.storage: {queue['storage']!r} is not defined under "
                        f"config.extensions{hint}")
    return problems


def string_items(value: Any) -> List[str]:
    """The string items of a list; anything else reads as empty (its type is reported elsewhere)."""
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, str)]


def batching_problems(path: str, pipeline: Mapping, defined: Mapping) -> List[str]:
    """Batching twice, or a batch processor before the end of a pipeline."""
    processors = string_items(pipeline.get("processors"))
    batch_processors = [name for name in processors if component_type(name) == "batch"]
    problems = []
    if len(batch_processors) > 1:
        problems.append(f"{path}.processors: batching twice ({', '.join(batch_processors)}); keep one batch step")
    if batch_processors:
        if processors[-1] != batch_processors[-1]:
            problems.append(f"{path}.processors: the batch processor must come after sampling and filtering "
                            f"(last in the list)")
        for exporter_id in string_items(pipeline.get("exporters")):
            exporter = defined["exporters"].get(exporter_id)
            queue = exporter.get("sending_queue") if isinstance(exporter, Mapping) else None
            if isinstance(queue, Mapping) and queue.get("batch") is not None:
                problems.append(f"{path}.processors: batching twice: the batch processor and exporter "
                                f"{exporter_id!r} (sending_queue.batch); keep exporter-side batching")
                break
    return problems


def rendered_port_clashes(config: Config, hint: str) -> List[str]:
    """Listen endpoints of receivers and extensions after overrides that share a port."""
    addresses: List[ListenAddress] = []
    problems: List[str] = []
    for kind in ("receivers", "extensions"):
        for component_id, component in (config.get(kind) or {}).items():
            for path, endpoint in find_endpoints(component, f"config.{kind}.{component_id}"):
                if not isinstance(endpoint, str):
                    problems.append(f"{path}: expected a \"host:port\" string, got {endpoint!r}{hint}")
                    continue
                try:
                    addresses.append(parse_host_port(endpoint, path))
                except SpecError:
                    continue  # not a listen address (e.g. an env reference); the collector checks it
    clashes: List[str] = []
    lint_port_clashes(addresses, clashes)
    return problems + [problem + hint for problem in clashes]


def find_endpoints(value: Any, path: str) -> List[Tuple[str, Any]]:
    """Every 'endpoint' value under a component, with its config path (scrape configs excluded)."""
    if not isinstance(value, Mapping):
        return []
    found: List[Tuple[str, Any]] = []
    for key, item in value.items():
        if key == "endpoint":
            found.append((f"{path}.endpoint", item))
        elif key != "config":  # prometheus scrape targets are not listeners
            found.extend(find_endpoints(item, f"{path}.{key}"))
    return found
