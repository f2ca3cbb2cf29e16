# -*- coding: utf-8 -*-
# Copyright: observability.lgtm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Kubernetes objects of one component, from its lifecycle description.

This file is the entry point only; the objects are built in
plugins/module_utils/k8s_manifests.py. Documentation for ansible-doc is in the
``k8s_manifests.yml`` sidecar file.
"""

from __future__ import annotations

from typing import Any, Dict

from ansible.errors import AnsibleFilterError

from ansible_collections.observability.lgtm.plugins.module_utils.k8s_manifests import (
    ManifestError,
    build_manifests,
)


def k8s_manifests(component: Any, namespace: Any = "observability", labels: Any = None,
                  removal: bool = False) -> Dict[str, Any]:
    """Every object of one component on Kubernetes (see the module for the keys)."""
    try:
        return build_manifests(component, namespace, labels, bool(removal))
    except ManifestError as error:
        raise AnsibleFilterError(f"k8s_manifests: {error}") from None
    except Exception as error:  # last guard: a bug here must still not surface as a traceback
        raise AnsibleFilterError(f"k8s_manifests: internal error ({type(error).__name__}: {error}); "
                                 f"please report it with the component that caused it") from None


class FilterModule:
    """Kubernetes manifests of the collection's components."""

    def filters(self) -> Dict[str, Any]:
        return {"k8s_manifests": k8s_manifests}
