# -*- coding: utf-8 -*-
# Copyright: observability.lgtm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Stage 2, read (Kubernetes): turn ``spec.kubernetes`` into a ``KubernetesSpec``.

The key absent (or null) is a plain host collector. An ``agent`` (a DaemonSet,
one per node) also takes the settings of the k8sattributes processor it runs
and whether its data folder is on its node (``node_data``: a disk queue is then possible);
a ``gateway`` (a StatefulSet behind a Service) takes the size of its claim,
which holds its disk queue (the queue's bound is derived from it). The rules
that need the whole spec (an agent does not sample, ...) are in the lint stage.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, List, Optional

from ansible_collections.observability.lgtm.plugins.module_utils.otelcol_spec import (
    KubernetesSpec, Problems, SpecError,
)
from ansible_collections.observability.lgtm.plugins.module_utils.otelcol_facts import (
    ENV_NAME_PATTERN, K8S_ATTRIBUTES_METADATA_KEYS, KUBERNETES_AGENT_METADATA, KUBERNETES_NODE_NAME_ENV, KUBERNETES_ROLES,
)
from ansible_collections.observability.lgtm.plugins.module_utils.otelcol_values import (
    check_keys, read_bool, read_distinct, read_mapping, read_quantity_mib, read_str,
)

AGENT_KEYS = ("node_name_env", "metadata", "node_data")
GATEWAY_KEYS = ("storage_size",)

ENV_NAME = re.compile(ENV_NAME_PATTERN)


def read_env_name(value: Any, path: str) -> str:
    """The name of an environment variable."""
    name = read_str(value, path)
    if not ENV_NAME.fullmatch(name):
        raise SpecError(f"{path}: {name!r} is not an environment variable name; accepted: letters, digits and '_', "
                        f"not starting with a digit, e.g. {KUBERNETES_NODE_NAME_ENV!r}")
    return name


def read_metadata(value: Any, path: str) -> List[str]:
    """The k8sattributes extract.metadata keys: known to the processor, each once, at least one."""
    refusal = (f"is not a metadata key of the k8sattributes processor (the collector refuses it); accepted: "
               f"{', '.join(K8S_ATTRIBUTES_METADATA_KEYS)}")
    keys = read_distinct(value, path, lambda key: None if key in K8S_ATTRIBUTES_METADATA_KEYS else refusal)
    if not keys:
        raise SpecError(f"{path}: give at least one key, or leave metadata out for the default "
                        f"({', '.join(KUBERNETES_AGENT_METADATA)})")
    return keys


def read_kubernetes(spec: Mapping) -> Optional[KubernetesSpec]:
    """spec.kubernetes: None for a host collector, else the role and, for an agent, its k8sattributes settings."""
    path = "spec.kubernetes"
    if spec.get("kubernetes") is None:
        return None
    mapping = read_mapping(spec["kubernetes"], path)
    problems = Problems()
    problems.attempt(check_keys, mapping, path, ("role",) + AGENT_KEYS + GATEWAY_KEYS)
    role = None
    if "role" not in mapping:
        problems.add(f"{path}.role: missing; accepted: agent (a DaemonSet: one collector per node, which tags the "
                     f"data of its node's pods) or gateway (a StatefulSet behind a Service, which the agents send to)")
    else:
        role = problems.attempt(read_str, mapping["role"], f"{path}.role", KUBERNETES_ROLES)
    if role == "gateway":
        for key in AGENT_KEYS:
            if key in mapping:
                problems.add(f"{path}.{key}: only an agent (role: agent) takes {key}: a gateway runs no "
                             f"k8sattributes processor, the agents tag the data before it arrives; remove it")
        storage_mib = None
        if mapping.get("storage_size") is not None:
            storage_mib = problems.attempt(read_quantity_mib, mapping["storage_size"], f"{path}.storage_size")
        problems.raise_if_any()
        return KubernetesSpec(role=role, path=path, storage_mib=storage_mib)
    if mapping.get("storage_size") is not None:
        problems.add(f"{path}.storage_size: only a gateway (role: gateway) has a claim; an agent's DaemonSet pod "
                     f"keeps no queue on disk; remove it")
    # An agent, or a role that could not be read: the agent's keys are read either way so that all is reported.
    node_name_env = problems.attempt(read_env_name, mapping.get("node_name_env", KUBERNETES_NODE_NAME_ENV),
                                     f"{path}.node_name_env")
    metadata = problems.attempt(read_metadata, mapping.get("metadata", list(KUBERNETES_AGENT_METADATA)),
                                f"{path}.metadata")
    node_data = problems.attempt(read_bool, mapping.get("node_data", False), f"{path}.node_data", default=False)
    problems.raise_if_any()
    return KubernetesSpec(role="agent", path=path, node_name_env=node_name_env, metadata=metadata,
                          node_data=node_data)
