# -*- coding: utf-8 -*-
# Copyright: observability.lgtm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Basic-auth users as bcrypt hashes with a salt derived from the component and the host.

The rules are in ``module_utils/basic_auth.py``; the hashing is Ansible's own
(the ``password_hash`` filter's). Documentation for ansible-doc is in the
``bcrypt_users.yml`` sidecar file.
"""

from __future__ import annotations

from typing import Any, Dict

from ansible.errors import AnsibleFilterError
from ansible.plugins.filter.core import get_encrypted_password

from ansible_collections.observability.lgtm.plugins.module_utils.basic_auth import BasicAuthError
from ansible_collections.observability.lgtm.plugins.module_utils.basic_auth import bcrypt_users as hash_users

FILTER_NAME = "bcrypt_users"


def ansible_bcrypt(password: str, salt: str, cost: int) -> str:
    return get_encrypted_password(password, "bcrypt", salt=salt, rounds=cost)


def bcrypt_users(users: Any, component: str, host: str, cost: Any = 10) -> Dict[str, str]:
    """Return {username: bcrypt hash} for {username: password}."""
    try:
        return hash_users(users, component, host, cost, ansible_bcrypt)
    except BasicAuthError as error:
        raise AnsibleFilterError(f"{FILTER_NAME} ({component}): {error}") from None


class FilterModule:
    """Basic-auth users as stored bcrypt hashes."""

    def filters(self) -> Dict[str, Any]:
        return {FILTER_NAME: bcrypt_users}
