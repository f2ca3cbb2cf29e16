# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The value patterns match whole values: no trailing newline, ASCII digits only."""

from __future__ import annotations

from typing import Any

import pytest

from ansible_collections.observability.lgtm.plugins.module_utils.otelcol_spec import SpecError
from ansible_collections.observability.lgtm.plugins.module_utils.otelcol_values import (
    COMPONENT_ID_PATTERN,
    DURATION_PATTERN,
    HOST_PORT_PATTERN,
    NAME_PATTERN,
    VERSION_PATTERN,
    is_loopback,
    parse_host_port,
    parse_version,
    read_quantity_mib,
)


@pytest.mark.parametrize(("pattern", "good"), [
    (COMPONENT_ID_PATTERN, "attributes/scrub"), (NAME_PATTERN, "tempo"), (DURATION_PATTERN, "1m30s"),
    (VERSION_PATTERN, "0.159.0"), (HOST_PORT_PATTERN, "127.0.0.1:4317"),
])
def test_patterns_match_the_value_but_not_a_trailing_newline(pattern: Any, good: str) -> None:
    assert pattern.fullmatch(good)
    assert not pattern.fullmatch(good + "\n")


def test_non_ascii_digits_are_not_a_port_or_a_version() -> None:
    with pytest.raises(SpecError, match="is not an explicit listen address"):
        parse_host_port("0.0.0.0:٤٣١٧", "x")
    with pytest.raises(SpecError, match="expected a collector version"):
        parse_version("0.١٥٩.0", "x")
    assert parse_host_port("0.0.0.0:4317", "x").port == 4317


@pytest.mark.parametrize(("quantity", "mib"), [
    ("1Gi", 1024), ("512Mi", 512), ("1.5Gi", 1536), ("2Ti", 2 * 1024 * 1024), ("1G", 953), ("500M", 476),
    (str(3 * 2 ** 20), 3),
])
def test_storage_quantities_in_mib(quantity: str, mib: int) -> None:
    assert read_quantity_mib(quantity, "spec.kubernetes.storage_size") == mib


@pytest.mark.parametrize(("quantity", "message"), [
    ("1GB", "is not a storage size"), ("1 Gi", "is not a storage size"), ("-1Gi", "is not a storage size"),
    ("1Ki", "is less than 1 MiB"), (1024, "expected a non-empty string"),
])
def test_bad_storage_quantities_name_the_key(quantity: Any, message: str) -> None:
    with pytest.raises(SpecError, match=r"spec.kubernetes.storage_size: .*" + message):
        read_quantity_mib(quantity, "spec.kubernetes.storage_size")


@pytest.mark.parametrize(("host", "loopback"), [
    ("localhost", True), ("LOCALHOST.", True), ("ip6-localhost", True), ("ip6-loopback", True),
    ("127.0.0.1", True), ("127.8.9.10", True), ("::1", True), ("[::1]", True),
    ("0.0.0.0", False), ("::", False), ("10.0.0.1", False), ("localhost.example", False), ("", False),
])
def test_loopback_hosts_are_the_names_and_addresses_lint_treats_as_one(host: str, loopback: bool) -> None:
    """The intake's address check and lint's port clashes (otelcol_lint.host_addresses) share one list of names."""
    assert is_loopback(host) is loopback
