# -*- coding: utf-8 -*-
# Copyright: observability.lgtm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Stage 5, overrides: merge spec.overrides (the raw escape hatch) into a rendered configuration.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, Dict

from ansible_collections.observability.lgtm.plugins.module_utils.otelcol_spec import (
    Config,
)


def deep_merge(base: Any, override: Any) -> Any:
    """Merge override into base: mappings merge key by key, anything else replaces.

    A null in the override removes the key, so a default can be dropped.
    """
    if not isinstance(base, Mapping) or not isinstance(override, Mapping):
        return copy.deepcopy(override)
    merged = {key: copy.deepcopy(value) for key, value in base.items()}
    for key, value in override.items():
        if value is None:
            merged.pop(key, None)
        elif key in merged:
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def apply_overrides(config: Config, overrides: Dict[str, Config]) -> Config:
    """The configuration with spec.overrides deep-merged into each section (a new dict)."""
    merged = dict(config)
    for kind, section in overrides.items():
        merged[kind] = deep_merge(config.get(kind, {}), section)
    return merged
