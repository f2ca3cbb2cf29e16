# -*- coding: utf-8 -*-
# Copyright: observability.lgtm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Entry point of the stack_catalogue lookup; the catalogue is module_utils/stack_catalogue.py."""

from __future__ import annotations

DOCUMENTATION = r"""
name: stack_catalogue
author: observability.lgtm contributors (@observability-lgtm)
short_description: Read the stack's catalogue, where each component's default ports, paths and kind are written once
description:
  - Returns values of the collection's stack catalogue (C(plugins/module_utils/stack_catalogue.py)), the one place
    where a component's default ports, health endpoint, query and ingest paths, the signals it accepts and serves,
    its Grafana data source type and its licence are written.
  - The roles' defaults read their default ports from it, and so do the wiring and the pipeline filter.
  - Each term is a dotted path, C(<component>) for a whole entry or C(<component>.<key>[.<key>...]) for one value.
options:
  _terms:
    description: Dotted paths into the catalogue, such as C(jaeger.ports.otlp_grpc).
    type: list
    elements: str
    required: true
"""

EXAMPLES = r"""
- name: Jaeger's default OTLP/gRPC port (4317)
  ansible.builtin.debug:
    msg: "{{ lookup('observability.lgtm.stack_catalogue', 'jaeger.ports.otlp_grpc') }}"

- name: Every component of the stack that the lab may run
  ansible.builtin.debug:
    msg: "{{ query('observability.lgtm.stack_catalogue', 'otel_collector', 'jaeger') | selectattr('runs_in_lab') | map(attribute='name') }}"
"""

RETURN = r"""
_raw:
  description:
    - One value per term; a whole entry is a mapping with C(name), C(licence), C(runs_in_lab), C(accepts), C(serves),
      C(ports) (name to number), C(endpoints) (name to the default C(host:port) of a listener set as one),
      C(port_variables) (name to the role variable that sets it), C(health_port),
      C(health_path), C(metrics_port), C(metrics_path), C(query_port), C(query_path), C(ingest_paths) and
      C(datasource_type).
  type: list
  elements: raw
"""

from typing import Any, List

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase

from ansible_collections.observability.lgtm.plugins.module_utils.stack_catalogue import CatalogueError, lookup_path


class LookupModule(LookupBase):
    """Values of the stack catalogue by dotted path."""

    def run(self, terms: List[Any], variables: Any = None, **kwargs: Any) -> List[Any]:
        values = []
        for term in terms:
            if not isinstance(term, str) or not term:
                raise AnsibleLookupError(f"stack_catalogue: each term is a dotted path such as 'jaeger.ports.otlp_grpc', got {term!r}")
            try:
                values.append(lookup_path(term))
            except CatalogueError as error:
                raise AnsibleLookupError(f"stack_catalogue: {error}") from None
        return values
