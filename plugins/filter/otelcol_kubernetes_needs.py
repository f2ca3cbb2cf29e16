# -*- coding: utf-8 -*-
# Copyright: observability.lgtm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a collector's workload needs on Kubernetes, from the same spec as ``otelcol_config``.

``otelcol_kubernetes_needs`` renders the spec as ``otelcol_config`` does (the
same checks, the same errors) and returns the ClusterRole rules and container
environment its configuration needs: an agent's k8sattributes processor
watches pods and namespaces (and more for some metadata) and reads its node's
name from the environment; the node folders its receivers read come as read-only
mounts. A gateway or a host collector needs no RBAC rule and no environment.

This file is the entry point only; the stage is
``plugins/module_utils/otelcol_kubernetes_needs.py``. Documentation for
ansible-doc is in the ``otelcol_kubernetes_needs.yml`` sidecar file.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from ansible_collections.observability.lgtm.plugins.filter.otelcol_config import checked_config, run_filter
from ansible_collections.observability.lgtm.plugins.module_utils.otelcol_spec import Config
from ansible_collections.observability.lgtm.plugins.module_utils.otelcol_kubernetes_needs import kubernetes_needs

FILTER_NAME = "otelcol_kubernetes_needs"


def otelcol_kubernetes_needs(spec: Any, version: Optional[str] = None) -> Dict[str, List[Config]]:
    """Return {cluster_role_rules, env, node_files, egress}: what the workload running the spec's collector needs on Kubernetes."""
    return run_filter(FILTER_NAME, lambda: kubernetes_needs(checked_config(spec, version, FILTER_NAME)))


class FilterModule:
    """What an OpenTelemetry Collector needs on Kubernetes."""

    def filters(self) -> Dict[str, Any]:
        return {FILTER_NAME: otelcol_kubernetes_needs}
