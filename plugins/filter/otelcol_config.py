# -*- coding: utf-8 -*-
# Copyright: observability.lgtm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Render a complete OpenTelemetry Collector configuration from a high-level spec.

Three filters live here:

* ``otelcol_config`` turns the spec described in ``docs/otelcol_config.md`` into
  the collector configuration (a dict, rendered by the role with ``to_nice_yaml``),
  after linting it.
* ``otelcol_gomemlimit`` returns the ``GOMEMLIMIT`` value that matches the
  ``memory_limiter`` settings of the same spec, for the service's environment.
* ``otelcol_memory_max`` returns the service's memory cap (systemd ``MemoryMax``)
  that the same ``memory_limiter`` settings are a share of.

This file is the entry point only (``otelcol_kubernetes_needs`` runs the same
stages through ``checked_config``). The stages live in plugins/module_utils:
facts (``otelcol_facts``), read (``otelcol_read``, ``otelcol_read_kubernetes``, ``otelcol_read_access``),
lint (``otelcol_lint``), render (``otelcol_render``), overrides
(``otelcol_overrides``) and the final check of the rendered configuration
(``otelcol_check``); the typed spec they share is ``otelcol_spec``.
Documentation for ansible-doc is in the ``otelcol_config.yml`` sidecar file.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional, TypeVar

from ansible.errors import AnsibleFilterError

from ansible_collections.observability.lgtm.plugins.module_utils.otelcol_spec import Config, SpecError, sorted_problems
# Re-exported for tests and for code that imported them from the filter before the split.
from ansible_collections.observability.lgtm.plugins.module_utils.otelcol_facts import (  # noqa: F401
    BACKEND_TYPES,
    COMPONENT_KINDS,
    DEFAULT_COLLECTOR_VERSION,
    REMOVED_COMPONENTS,
    SIGNALS,
    TYPE_RENAMES,
    versioned_type,
)
from ansible_collections.observability.lgtm.plugins.module_utils.otelcol_values import (  # noqa: F401
    parse_version,
)
from ansible_collections.observability.lgtm.plugins.module_utils.otelcol_read import read_spec, read_spec_memory
from ansible_collections.observability.lgtm.plugins.module_utils.otelcol_lint import lint_spec
from ansible_collections.observability.lgtm.plugins.module_utils.otelcol_render import render
from ansible_collections.observability.lgtm.plugins.module_utils.otelcol_overrides import apply_overrides
from ansible_collections.observability.lgtm.plugins.module_utils.otelcol_check import check_rendered

T = TypeVar("T")

__all__ = [
    "BACKEND_TYPES", "COMPONENT_KINDS", "DEFAULT_COLLECTOR_VERSION", "REMOVED_COMPONENTS", "SIGNALS",
    "TYPE_RENAMES", "FilterModule", "otelcol_config", "otelcol_gomemlimit", "otelcol_memory_max", "parse_version", "versioned_type",
]


def printable(text: str) -> str:
    """Escape control characters (a key such as "a\\nb" in a path) so that each problem stays on one line."""
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)


def format_problems(problems: List[str], filter_name: str = "otelcol_config") -> str:
    """Every problem on its own line, sorted by path."""
    ordered = sorted_problems(problems)
    lines = "\n".join(f"  - {printable(problem)}" for problem in ordered)
    return f"{filter_name}: {len(ordered)} problem(s) in the spec:\n{lines}"


def checked_config(spec: Any, version: Optional[str], filter_name: str) -> Config:
    """The configuration of a spec: read, linted, rendered, overridden and checked again."""
    parsed = read_spec(spec, version)
    problems = parsed.problems + lint_spec(parsed)
    if problems:
        raise AnsibleFilterError(format_problems(problems, filter_name))
    config = apply_overrides(render(parsed), parsed.overrides)
    problems = check_rendered(config, parsed)
    if problems:
        raise AnsibleFilterError(format_problems(problems, filter_name))
    return config


def run_filter(filter_name: str, body: Callable[[], T]) -> T:
    """Run a filter's body: spec problems and bugs alike become an AnsibleFilterError, never a traceback."""
    try:
        return body()
    except SpecError as error:
        raise AnsibleFilterError(format_problems(error.problems, filter_name)) from None
    except AnsibleFilterError:
        raise
    except Exception as error:  # last guard: a bug here must still not surface as a traceback
        raise AnsibleFilterError(f"{filter_name}: internal error ({type(error).__name__}: {error}); "
                                 f"please report it with the spec that caused it") from None


def otelcol_config(spec: Any, version: Optional[str] = None) -> Config:
    """Return the complete collector configuration for a high-level spec."""
    return run_filter("otelcol_config", lambda: checked_config(spec, version, "otelcol_config"))


def otelcol_gomemlimit(spec: Any) -> str:
    """Return the GOMEMLIMIT value (e.g. "1310MiB") matching the spec's memory_limiter."""
    return run_filter("otelcol_gomemlimit", lambda: f"{read_spec_memory(spec).gomemlimit_mib}MiB")


def otelcol_memory_max(spec: Any) -> int:
    """Return the MiB the collector's service may use at all (systemd MemoryMax) for the spec's memory_limiter."""
    return run_filter("otelcol_memory_max", lambda: read_spec_memory(spec).budget_mib)


class FilterModule:
    """OpenTelemetry Collector configuration filters."""

    def filters(self) -> Dict[str, Any]:
        return {
            "otelcol_config": otelcol_config,
            "otelcol_gomemlimit": otelcol_gomemlimit,
            "otelcol_memory_max": otelcol_memory_max,
        }
