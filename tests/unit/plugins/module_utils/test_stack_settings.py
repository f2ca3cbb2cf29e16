"""The collection-wide TLS switch: what counts as on, off, and a mistake."""
from __future__ import annotations

import pytest

from ansible_collections.observability.lgtm.plugins.module_utils.stack_settings import SettingError, host_machine, tls_enabled


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


@pytest.mark.parametrize(("given", "facts", "variable", "expected"), [
    ("arm64", "x86_64", "x86_64", "arm64"),       # the collection-wide override wins over the fact
    (None, "aarch64", "x86_64", "aarch64"),       # a gathered fact wins over a variable of that name
    ("", None, "s390x", "s390x"),                 # empty is unset; a variable ansible_architecture
    (None, None, None, ""),                       # not known yet: the download gathers it
])
def test_the_hosts_machine_architecture(given, facts, variable, expected):
    assert host_machine(given, facts, variable) == expected
