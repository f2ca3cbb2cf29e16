"""The collection's stack catalogue for the lab's own scripts.

plugins/module_utils/stack_catalogue.py imports nothing of the collection, so
the lab loads it from its file: the lab and its tools read the same default
ports, paths and licences as the roles, without the collection being installed.
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

SOURCE = Path(__file__).resolve().parents[1] / "plugins" / "module_utils" / "stack_catalogue.py"


def load() -> ModuleType:
    """The catalogue module (loaded once per process)."""
    name = "lgtm_lab_stack_catalogue"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, SOURCE)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


CATALOGUE = load()
