# -*- coding: utf-8 -*-
# Copyright: observability.lgtm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Stage 2, read (values): typed readers for single spec values.

Each reader returns a clean Python value or raises ``SpecError`` naming the
spec path; readers of lists report every bad item. ``otelcol_read`` uses them
to read whole spec sections.
"""

from __future__ import annotations

import ipaddress

import re
from collections.abc import Mapping
from typing import Any, Callable, Dict, List, Optional, Sequence

from ansible_collections.observability.lgtm.plugins.module_utils.otelcol_spec import (
    ListenAddress, Problems, SpecError, Version,
)
from ansible_collections.observability.lgtm.plugins.module_utils.otelcol_facts import (
    DEFAULT_COLLECTOR_VERSION, ID_NAME_MAX_LENGTH, MINIMUM_COLLECTOR_VERSION, REMOVED_SPEC_KEYS, format_version,
)

# Patterns are used with fullmatch: `$` would also accept a trailing newline.
# Digits are spelled [0-9]: `\d` accepts any Unicode digit, which int() reads.
COMPONENT_ID_PATTERN = re.compile(r"[a-z][a-z0-9_]*(/[A-Za-z0-9][A-Za-z0-9_.\-]*)?")


NAME_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9_.\-]*")


DURATION_PATTERN = re.compile(r"([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+")
VERSION_PATTERN = re.compile(r"v?[0-9]+\.[0-9]+\.[0-9]+")
# A Kubernetes resource quantity in bytes: a number and a binary or decimal suffix (none: bytes).
QUANTITY_PATTERN = re.compile(r"([0-9]+(?:\.[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|k|M|G|T|P)?")
QUANTITY_FACTORS = {None: 1, "Ki": 2 ** 10, "Mi": 2 ** 20, "Gi": 2 ** 30, "Ti": 2 ** 40, "Pi": 2 ** 50,
                    "k": 10 ** 3, "M": 10 ** 6, "G": 10 ** 9, "T": 10 ** 12, "P": 10 ** 15}
HOST_PORT_PATTERN = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.\-]*):([0-9]+)")
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def parse_version(value: Any, path: str) -> Version:
    """Parse "0.159.0" (or "v0.159.0") into a tuple; reject anything else."""
    if not isinstance(value, str) or not VERSION_PATTERN.fullmatch(value.strip()):
        raise SpecError(f"{path}: expected a collector version string like \"{DEFAULT_COLLECTOR_VERSION}\", got {value!r}")
    parts = value.strip().lstrip("v").split(".")
    version = (int(parts[0]), int(parts[1]), int(parts[2]))
    if version < MINIMUM_COLLECTOR_VERSION:
        raise SpecError(
            f"{path}: collector {value} is older than the oldest supported version "
            f"{format_version(MINIMUM_COLLECTOR_VERSION)}; accepted: {format_version(MINIMUM_COLLECTOR_VERSION)} or newer"
        )
    return version


def describe_type(value: Any) -> str:
    """The YAML-ish type name of a value, for messages."""
    return type(value).__name__ if value is not None else "null"


def read_mapping(value: Any, path: str) -> Mapping:
    """A mapping with string keys."""
    if not isinstance(value, Mapping):
        raise SpecError(f"{path}: expected a mapping (dict), got {describe_type(value)} {value!r}")
    for key in value:
        if not isinstance(key, str):
            raise SpecError(f"{path}: keys must be strings, got {describe_type(key)} {key!r}")
    return value


def check_keys(mapping: Mapping, path: str, accepted: Sequence[str]) -> None:
    """Raise one problem per key of mapping that is not accepted."""
    unknown = sorted(str(key) for key in mapping if key not in accepted)
    if unknown:
        raise SpecError(*(f"{path}.{key}: unknown key"
                          + (f" ({REMOVED_SPEC_KEYS[key]})" if key in REMOVED_SPEC_KEYS else "")
                          + f"; accepted keys: {', '.join(sorted(accepted))}" for key in unknown))


def read_str(value: Any, path: str, choices: Optional[Sequence[str]] = None) -> str:
    """A non-empty string without control characters (a trailing newline is a mistake, not data)."""
    if not isinstance(value, str) or not value.strip():
        raise SpecError(f"{path}: expected a non-empty string, got {describe_type(value)} {value!r}")
    if CONTROL_CHARACTERS.search(value):
        raise SpecError(f"{path}: {value!r} contains a control character (a newline or tab, often from a YAML "
                        f"block scalar); remove it")
    if choices is not None and value not in choices:
        raise SpecError(f"{path}: {value!r} is not accepted; accepted: {', '.join(choices)}")
    return str(value)


def read_int(value: Any, path: str, minimum: int, maximum: Optional[int] = None) -> int:
    """An integer (not a boolean) within bounds."""
    # bool is a subclass of int in Python; `true` is never a valid size.
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpecError(f"{path}: expected an integer, got {describe_type(value)} {value!r}")
    if value < minimum or (maximum is not None and value > maximum):
        upper = f" and <= {maximum}" if maximum is not None else ""
        raise SpecError(f"{path}: {value} is out of range; accepted: an integer >= {minimum}{upper}")
    return int(value)


def read_number(value: Any, path: str, minimum: float, maximum: float) -> float:
    """A number (not a boolean) within bounds."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SpecError(f"{path}: expected a number, got {describe_type(value)} {value!r}")
    if not minimum <= value <= maximum:
        raise SpecError(f"{path}: {value} is out of range; accepted: a number from {minimum} to {maximum}")
    return float(value)


def read_bool(value: Any, path: str) -> bool:
    """true or false."""
    if not isinstance(value, bool):
        raise SpecError(f"{path}: expected true or false, got {describe_type(value)} {value!r}")
    return value


def read_duration(value: Any, path: str) -> str:
    """A Go duration string such as 1s or 200ms."""
    if not isinstance(value, str) or not DURATION_PATTERN.fullmatch(value):
        raise SpecError(f"{path}: expected a Go duration string such as \"1s\", \"200ms\" or \"5m\", got {value!r}")
    return str(value)


def read_str_list(value: Any, path: str) -> List[str]:
    """A list of non-empty strings; every bad item is reported."""
    if not isinstance(value, list):
        raise SpecError(f"{path}: expected a list of strings, got {describe_type(value)} {value!r}")
    problems = Problems()
    items = [problems.attempt(read_str, item, f"{path}[{index}]") for index, item in enumerate(value)]
    problems.raise_if_any()
    return items


def read_durations(value: Any, path: str) -> List[str]:
    """A list of Go durations (null reads as empty); every bad item is reported."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise SpecError(f"{path}: expected a list of Go durations such as [\"10ms\", \"100ms\", \"1s\"], got "
                        f"{describe_type(value)} {value!r}")
    problems = Problems()
    items = [problems.attempt(read_duration, item, f"{path}[{index}]") for index, item in enumerate(value)]
    problems.raise_if_any()
    return items


def read_str_map(value: Any, path: str) -> Dict[str, str]:
    """A mapping of strings to scalar values, as strings; keys and values without control characters."""
    mapping = read_mapping(value, path)
    result: Dict[str, str] = {}
    problems = Problems()
    for key, item in mapping.items():
        if isinstance(item, bool) or not isinstance(item, (str, int, float)):
            problems.add(f"{path}.{key}: expected a string value, got {describe_type(item)} {item!r}")
        elif CONTROL_CHARACTERS.search(key) or CONTROL_CHARACTERS.search(str(item)):
            problems.add(f"{path}.{key}: {key!r}: {str(item)!r} contains a control character (a newline or tab, "
                         f"often from a YAML block scalar); remove it")
        else:
            result[str(key)] = str(item)
    problems.raise_if_any()
    return result


def check_name_length(name: str, path: str, what: str = "name") -> None:
    """Refuse a component or pipeline name longer than the collector accepts."""
    if len(name) > ID_NAME_MAX_LENGTH:
        raise SpecError(f"{path}: the {what} is {len(name)} characters long; the collector accepts at most "
                        f"{ID_NAME_MAX_LENGTH}")


def read_component_id(value: Any, path: str) -> str:
    """A component id, 'type' or 'type/name'."""
    text = read_str(value, path)
    if not COMPONENT_ID_PATTERN.fullmatch(text):
        raise SpecError(f"{path}: {text!r} is not a component id; accepted: 'type' or 'type/name', e.g. 'attributes/scrub'")
    if "/" in text:
        check_name_length(text.split("/", 1)[1], path, "name after '/'")
    return text


def read_name(value: Any, path: str) -> str:
    """A name: a letter followed by letters, digits, '_', '.', '-', at most ID_NAME_MAX_LENGTH long."""
    text = read_str(value, path)
    if not NAME_PATTERN.fullmatch(text):
        raise SpecError(f"{path}: {text!r} is not a valid name; accepted: a letter followed by letters, digits, '_', '.', '-'")
    check_name_length(text, path)
    return text


def read_positive_duration(value: Any, path: str) -> str:
    """A Go duration that is greater than zero (the collector refuses zero where this is used)."""
    text = read_duration(value, path)
    if all(float(number) == 0 for number in re.findall(r"[0-9]+(?:\.[0-9]+)?", text)):
        raise SpecError(f"{path}: {text!r} is zero; the collector needs a positive duration here, e.g. \"1s\"")
    return text


def read_absolute_path(value: Any, path: str) -> str:
    """An absolute path (a glob where the caller reads one)."""
    text = read_str(value, path)
    if not text.startswith("/"):
        raise SpecError(f"{path}: expected an absolute path, got {text!r}")
    return text


def read_distinct(value: Any, path: str, refusal: Callable[[str], Optional[str]]) -> List[str]:
    """A list of strings, each listed once; refusal(item) says why an item is refused (None: accepted)."""
    items = read_str_list(value, path)
    problems = Problems()
    for index, item in enumerate(items):
        refused = refusal(item)
        if refused is not None:
            problems.add(f"{path}[{index}]: {item!r} {refused}")
        elif item in items[:index]:
            problems.add(f"{path}[{index}]: {item!r} is listed twice")
    problems.raise_if_any()
    return items


def read_dimensions(value: Any, path: str, builtin: Sequence[str]) -> List[str]:
    """Connector dimensions: no repeats, and none of the dimensions the connector adds itself."""
    refusal = (f"is a dimension the connector always adds ({', '.join(builtin)}); the collector refuses it as a "
               f"duplicate; remove it")
    return read_distinct(value, path, lambda dimension: refusal if dimension in builtin else None)


def read_quantity_mib(value: Any, path: str) -> int:
    """A Kubernetes storage quantity ("1Gi", "500M"), in whole MiB."""
    text = read_str(value, path)
    match = QUANTITY_PATTERN.fullmatch(text)
    if not match:
        raise SpecError(f"{path}: {text!r} is not a storage size; accepted: a number with Ki, Mi, Gi, Ti, Pi, k, M, "
                        f"G, T or P, e.g. \"1Gi\"")
    mib = int(float(match.group(1)) * QUANTITY_FACTORS[match.group(2)]) // 2 ** 20
    if mib < 1:
        raise SpecError(f"{path}: {text!r} is less than 1 MiB")
    return mib


def read_port_number(digits: str, path: str) -> int:
    """A TCP port given as digits, 1-65535."""
    port = int(digits)
    if not 1 <= port <= 65535:
        raise SpecError(f"{path}: port {port} is out of range; accepted: 1-65535")
    return port


def parse_host_port(value: Any, path: str) -> ListenAddress:
    """Parse an explicit "host:port" (IPv6 as "[::1]:port")."""
    text = read_str(value, path)
    match = HOST_PORT_PATTERN.fullmatch(text)
    if not match:
        raise SpecError(f"{path}: {text!r} is not an explicit listen address; accepted: \"host:port\", e.g. \"0.0.0.0:4317\"")
    port = read_port_number(match.group(2), path)
    if not match.group(1):
        raise SpecError(f"{path}: {text!r} has no host; bind explicitly, e.g. \"0.0.0.0:{port}\" or \"127.0.0.1:{port}\"")
    return ListenAddress(host=match.group(1).strip("[]"), port=port, path=path)


# Names that resolve to the loopback addresses on every host this collection targets.
LOOPBACK_NAMES = frozenset({"localhost", "ip6-localhost", "ip6-loopback"})


def host_name(host: str) -> str:
    """A host spelled one way: without IPv6 brackets, lower case, without the root's trailing dot."""
    return host.strip("[]").lower().rstrip(".")


def is_loopback(host: str) -> bool:
    """True for a host only its own machine (or pod) reaches: LOOPBACK_NAMES, 127.0.0.0/8, ::1."""
    name = host_name(host)
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False
