"""The collection-wide TLS switch: what counts as on, off, and a mistake."""
from __future__ import annotations

import pytest

from ansible_collections.observability.lgtm.plugins.module_utils.stack_settings import SettingError, tls_enabled


@pytest.mark.parametrize("value", [True, 1, "true", "True", "yes", "on", "1", " YES "])
def test_values_that_turn_tls_on(value):
    assert tls_enabled(value) is True


@pytest.mark.parametrize("value", [None, False, 0, "false", "no", "off", "0", ""])
def test_values_that_leave_tls_off(value):
    assert tls_enabled(value) is False


@pytest.mark.parametrize("value", ["sure", "enabled", 2, 1.0, ["true"], {"on": True}])
def test_anything_else_fails_naming_the_variable(value):
    with pytest.raises(SettingError, match=r"^lgtm_tls must be a boolean \(true or false\), got "):
        tls_enabled(value)
