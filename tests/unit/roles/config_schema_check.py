"""Check a rendered configuration against the schema of a pinned upstream release.

The schemas (config_schemas/<component>.yml) are derived data written by
lab/config_schema.py: a flat map of key path -> type. Paths join keys with
dots; `<path>[]` describes the items of a list, `<path>.*` any key of a map.

Types: map (only the listed children), open (any keys and values), list,
string, int, float, bool, duration, any. A YAML null is accepted anywhere:
the upstream parsers keep the default for it. A key an `enum` amendment names
(its path a pattern, `*` matching any part) takes only the values listed there.
"""
from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

SCHEMA_DIR = Path(__file__).resolve().parent / "config_schemas"

# Go durations plus the d, w and y units of Prometheus' model.Duration, which
# Loki and Mimir accept in many fields. A bare integer is refused on purpose:
# yaml.v3 (Mimir) rejects it and yaml.v2 (Loki, Tempo) reads it as nanoseconds.
DURATION = re.compile(r"^-?(\d+(\.\d+)?(ns|us|µs|ms|s|m|h|d|w|y))+$|^0$")
INT_TEXT = re.compile(r"^-?\d+$")


@dataclass(frozen=True)
class Schema:
    component: str
    version: str
    format: str  # yaml, or ini (Grafana: every value is text in the file)
    keys: dict[str, str]
    # key path pattern -> the values upstream says the key takes
    enums: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.component} {self.version}"


def load_schema(component: str, directory: Path = SCHEMA_DIR) -> Schema:
    data = yaml.safe_load((directory / f"{component}.yml").read_text(encoding="utf-8"))
    enums = {entry["path"]: tuple(entry["values"]) for entry in data.get("amendments", []) if entry["change"] == "enum"}
    return Schema(data["component"], str(data["version"]), data.get("format", "yaml"), data["keys"], enums)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _is_int(value: Any, ini: bool) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (ini and isinstance(value, str) and bool(INT_TEXT.match(value)))


# The texts Grafana reads as a boolean from its ini file: its settings go through gopkg.in/ini.v1
# (Grafana's go.mod), whose Key.Bool and MustBool call parseBool (key.go, v1.67): these and nothing
# else. MustBool falls back to the default for any other text, silently, so the check refuses it.
INI_BOOLEANS = frozenset({"1", "t", "T", "true", "TRUE", "True", "YES", "yes", "Yes", "y", "ON", "on", "On",
                          "0", "f", "F", "false", "FALSE", "False", "NO", "no", "No", "n", "OFF", "off", "Off"})


def _is_bool(value: Any, ini: bool) -> bool:
    return isinstance(value, bool) or (ini and isinstance(value, str) and value in INI_BOOLEANS)


def _is_float(value: Any, ini: bool) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return True
    return ini and isinstance(value, str) and bool(re.match(r"^-?\d+(\.\d+)?$", value))


def _is_string(value: Any, ini: bool) -> bool:
    # The Go YAML decoders store any scalar's text in a string field; the
    # Grafana role's INI writer joins a list with commas.
    scalar = isinstance(value, (str, int, float, bool))
    return scalar or (ini and isinstance(value, list) and all(isinstance(i, (str, int, float)) for i in value))


def _is_duration(value: Any, ini: bool) -> bool:
    return isinstance(value, str) and bool(DURATION.match(value))


CHECKS = {
    "map": lambda value, ini: isinstance(value, dict),
    "open": lambda value, ini: isinstance(value, dict),
    "list": lambda value, ini: isinstance(value, list),
    "string": _is_string,
    "int": _is_int,
    "float": _is_float,
    "bool": _is_bool,
    "duration": _is_duration,
    "any": lambda value, ini: True,
}


def _text(value: Any) -> str:
    """A scalar as the upstream parser reads it for a string key (YAML true is "true")."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _listed(values: tuple[str, ...]) -> str:
    return ", ".join(value if value else "''" for value in values)


def _type_name(value: Any) -> str:
    """The plain type name (Ansible hands over tagged subclasses of str, dict, ...)."""
    for kind in (bool, int, float, str, list, dict):
        if isinstance(value, kind):
            return kind.__name__
    return type(value).__name__


class _Walker:
    """Walks one configuration, collecting one message per finding."""

    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self.errors: list[str] = []

    def kind(self, parent: str, key: str) -> tuple[str, str] | None:
        """(schema path, type) of a key below `parent`, or None when unknown."""
        candidates = [_join(parent, key), _join(parent, "*")]
        if "." in key:
            # A dotted INI section of a free family: [plugin.<id>] matches plugin.*.
            candidates.append(_join(parent, key.split(".", 1)[0] + ".*"))
        for path in candidates:
            if path in self.schema.keys:
                return path, self.schema.keys[path]
        return None

    def value(self, value: Any, path: str, shown: str, kind: str) -> None:
        if value is None:
            return
        if not CHECKS[kind](value, self.schema.format == "ini"):
            found = _type_name(value)
            self.errors.append(f"{self.schema.label}: {shown} is {found} {value!r:.60}, expected {kind}")
            return
        allowed = self.allowed(path)
        if allowed is not None and not isinstance(value, (dict, list)) and _text(value) not in allowed:
            self.errors.append(f"{self.schema.label}: {shown} is {value!r:.60}, expected one of {_listed(allowed)}")
            return
        if kind == "map":
            self.mapping(value, path, shown)
        elif kind == "list" and f"{path}[]" in self.schema.keys:
            for index, item in enumerate(value):
                self.value(item, f"{path}[]", f"{shown}[{index}]", self.schema.keys[f"{path}[]"])

    def allowed(self, path: str) -> tuple[str, ...] | None:
        """The values an enum amendment gives the key at `path`, if any."""
        for pattern, values in self.schema.enums.items():
            if fnmatch.fnmatchcase(path, pattern):
                return values
        return None

    def mapping(self, value: dict, path: str, shown: str) -> None:
        for key, child in value.items():
            found = self.kind(path, str(key))
            if found is None:
                self.errors.append(f"{self.schema.label}: unknown key {_join(shown, str(key))}")
                continue
            self.value(child, found[0], _join(shown, str(key)), found[1])


def check(config: dict, schema: Schema) -> list[str]:
    """Every unknown key path and wrongly typed value of `config`, as messages."""
    walker = _Walker(schema)
    walker.value(config, "", "", "map")
    return walker.errors
