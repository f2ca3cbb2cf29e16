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
    parse_host_port,
    parse_version,
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
