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
  - C(backends) lists the components that store and serve a signal, in the catalogue's order, the order in which
    C(observability.lgtm.site) installs them; C(signal_backends) gives, per signal, the components that can be its
    backend; C(inventory_groups) each component's default inventory group.
  - C(machines) lists the machine architectures the roles install on, as Ansible names them (C(ansible_architecture)).
  - C(late_metrics_window) is how much older than the newest point of its series a metric point may be and still be
    stored (a Prometheus duration), which bounds the backend outage the collectors' disk queues bridge without losing
    metrics; both metrics backends' out-of-order window defaults to it.
  - C(machine) is the host's machine architecture as the roles read it, the one place that is decided - the
    collection-wide C(lgtm_architecture) when set, else the host's gathered C(ansible_facts.architecture), else an
    C(ansible_architecture) variable; empty while none is known (facts not gathered yet) - or O(machine) when given.
  - C(release_architectures) gives each component's name of that machine architecture in its upstream's release
    files (C(amd64) for C(x86_64), C(arm64) for C(aarch64)), empty for every component when the roles install on no
    such machine or none is known yet; C(release_architectures.<component>) one of them. The roles' artifact URLs
    are built from it.
options:
  _terms:
    description: Dotted paths into the catalogue, such as C(jaeger.ports.otlp_grpc).
    type: list
    elements: str
    required: true
  machine:
    description:
      - A machine architecture (as C(ansible_architecture) names it, such as C(x86_64) or C(aarch64); C(amd64) and
        C(arm64) are taken as their aliases) for C(machine) and C(release_architectures), instead of the host's.
    type: str
"""

EXAMPLES = r"""
- name: Jaeger's default OTLP/gRPC port (4317)
  ansible.builtin.debug:
    msg: "{{ lookup('observability.lgtm.stack_catalogue', 'jaeger.ports.otlp_grpc') }}"

- name: Upstream's name of the host's machine architecture in Jaeger's release files (arm64 on an aarch64 host)
  ansible.builtin.debug:
    msg: "{{ lookup('observability.lgtm.stack_catalogue', 'release_architectures.jaeger') }}"

- name: The same for another machine architecture (amd64)
  ansible.builtin.debug:
    msg: "{{ lookup('observability.lgtm.stack_catalogue', 'release_architectures.jaeger', machine='x86_64') }}"

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
      C(health_path), C(metrics_port), C(metrics_path), C(query_port), C(query_path), C(ingest_paths),
      C(ingest) (by a pipeline spec backend's protocol, the first the default - the wire protocol, C(otlp_grpc),
      C(otlp_http) or C(remote_write), the port's name and the path, empty for the exporter's default path;
      C(ingest_paths) lists the paths by protocol), C(tenant_header) (the header a backend's tenant is sent in, or none),
      C(datasource_type) and C(release_architectures) (machine architecture to upstream's name of it).
  type: list
  elements: raw
"""

from typing import Any, List, Optional

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase

from ansible_collections.observability.lgtm.plugins.module_utils.stack_catalogue import (
    MACHINE_VIEWS, CatalogueError, lookup_path,
)
from ansible_collections.observability.lgtm.plugins.module_utils.stack_settings import ARCHITECTURE_VARIABLE, host_machine


class LookupModule(LookupBase):
    """Values of the stack catalogue by dotted path."""

    def _variable(self, variables: Any, name: str) -> Any:
        """A variable of the task, templated; None when it is not defined."""
        if not variables or name not in variables:
            return None
        return self._templar.template(variables[name]) if self._templar is not None else variables[name]

    def _host_machine(self, variables: Any) -> str:
        facts = variables.get("ansible_facts") if variables else None
        gathered: Optional[Any] = facts.get("architecture") if hasattr(facts, "get") else None
        return host_machine(self._variable(variables, ARCHITECTURE_VARIABLE), gathered,
                            self._variable(variables, "ansible_architecture"))

    def run(self, terms: List[Any], variables: Any = None, **kwargs: Any) -> List[Any]:
        self.set_options(var_options=variables, direct=kwargs)
        machine = self.get_option("machine")
        if machine is None and any(isinstance(term, str) and term.split(".")[0] in MACHINE_VIEWS for term in terms):
            machine = self._host_machine(variables)
        values = []
        for term in terms:
            if not isinstance(term, str) or not term:
                raise AnsibleLookupError(f"stack_catalogue: each term is a dotted path such as 'jaeger.ports.otlp_grpc', got {term!r}")
            try:
                values.append(lookup_path(term, None if machine is None else str(machine)))
            except CatalogueError as error:
                raise AnsibleLookupError(f"stack_catalogue: {error}") from None
        return values
