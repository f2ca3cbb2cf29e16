"""Basic-auth users as bcrypt hashes: a salt derived from the component and the host, and clear refusals."""
from __future__ import annotations

import pytest

pytest.importorskip("ansible")
passlib_bcrypt = pytest.importorskip("passlib.hash").bcrypt

from ansible_collections.observability.lgtm.plugins.filter.bcrypt_users import bcrypt_users  # noqa: E402
from ansible_collections.observability.lgtm.plugins.module_utils.basic_auth import (  # noqa: E402
    BasicAuthError, check_cost, check_users, derived_salt,
)
from ansible.errors import AnsibleFilterError  # noqa: E402


def test_the_salt_is_bcrypts_shape_and_depends_on_component_and_host():
    salt = derived_salt("jaeger", "host-a")
    assert len(salt) == 22 and salt.endswith("e") and all(char in "0123456789abcdef" for char in salt[:-1])
    assert salt == derived_salt("jaeger", "host-a")
    assert len({salt, derived_salt("jaeger", "host-b"), derived_salt("prometheus", "host-a")}) == 3


def test_hashes_verify_and_repeat_and_change_only_with_the_password():
    first = bcrypt_users({"collector": "s3cret", "grafana": "other"}, "jaeger", "host-a", 4)
    assert set(first) == {"collector", "grafana"}
    assert first["collector"].startswith("$2b$04$")
    assert passlib_bcrypt.verify("s3cret", first["collector"]) and not passlib_bcrypt.verify("wrong", first["collector"])
    assert bcrypt_users({"collector": "s3cret"}, "jaeger", "host-a", 4)["collector"] == first["collector"]
    assert bcrypt_users({"collector": "changed"}, "jaeger", "host-a", 4)["collector"] != first["collector"]
    assert bcrypt_users({"collector": "s3cret"}, "jaeger", "host-b", 4)["collector"] != first["collector"]


@pytest.mark.parametrize(("users", "message"), [
    (["collector"], "expected a mapping of username to password, got list"),
    ({"": "pw"}, "usernames must be non-empty strings without ':', got ''"),
    ({"a:b": "pw"}, "usernames must be non-empty strings without ':', got 'a:b'"),
    ({"collector": ""}, "the password of user 'collector' must be a non-empty string"),
    ({"collector": 5}, "the password of user 'collector' must be a non-empty string"),
])
def test_bad_users_are_refused_without_showing_a_password(users, message):
    with pytest.raises(BasicAuthError, match=f"^{message}$"):
        check_users(users)


@pytest.mark.parametrize("cost", [3, 32, "10", True, None])
def test_a_cost_outside_bcrypts_range_is_refused(cost):
    with pytest.raises(BasicAuthError, match="the bcrypt cost must be an integer from 4 to 31"):
        check_cost(cost)


def test_the_filter_names_itself_and_the_component_and_never_the_password():
    with pytest.raises(AnsibleFilterError) as raised:
        bcrypt_users({"collector": "x" * 3, "": "hidden-pass"}, "prometheus", "host-a", 4)
    assert str(raised.value).startswith("bcrypt_users (prometheus): usernames must be")
    assert "hidden-pass" not in str(raised.value)
