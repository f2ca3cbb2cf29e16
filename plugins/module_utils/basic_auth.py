# -*- coding: utf-8 -*-
# Copyright: observability.lgtm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Basic-auth users as the backends store them: bcrypt hashes that change only with their password.

Prometheus' web config and Jaeger's htpasswd (its basicauth extension) both
keep bcrypt hashes. A fresh random salt would give a new hash, so a changed
file and a restart, on every run; the salt is derived from the component and
the host instead (never from a password), so a hash changes only when its
password does, and two hosts never share a hash of the same password.
"""

from __future__ import annotations

import hashlib
from typing import Callable, Dict, Mapping

# bcrypt's own limits on its cost (log2 of the rounds).
MIN_COST, MAX_COST = 4, 31
# A bcrypt salt is 22 characters of its base64 alphabet, which holds the hex
# digits; the last one carries only 2 significant bits, and 'e' is one of the
# four characters whose unused bits are zero (passlib would otherwise warn and
# change it).
SALT_HEX_LENGTH = 21
SALT_LAST_CHARACTER = "e"


class BasicAuthError(ValueError):
    """Users or a cost that cannot be hashed; the message says which."""


def derived_salt(component: str, host: str) -> str:
    """The bcrypt salt of one component on one host."""
    seed = f"observability.lgtm/{component}/{host}".encode("utf-8")
    return hashlib.sha256(seed).hexdigest()[:SALT_HEX_LENGTH] + SALT_LAST_CHARACTER


def check_users(users: object) -> Mapping[str, str]:
    """A mapping of non-empty usernames to non-empty passwords (no ':' in a username, as htpasswd files split on it)."""
    if not isinstance(users, Mapping):
        raise BasicAuthError(f"expected a mapping of username to password, got {type(users).__name__}")
    for username, password in users.items():
        if not isinstance(username, str) or not username or ":" in username:
            raise BasicAuthError(f"usernames must be non-empty strings without ':', got {username!r}")
        # The password itself is never echoed.
        if not isinstance(password, str) or not password:
            raise BasicAuthError(f"the password of user {username!r} must be a non-empty string")
    return users


def check_cost(cost: object) -> int:
    if isinstance(cost, bool) or not isinstance(cost, int) or not MIN_COST <= cost <= MAX_COST:
        raise BasicAuthError(f"the bcrypt cost must be an integer from {MIN_COST} to {MAX_COST}, got {cost!r}")
    return cost


def bcrypt_users(users: object, component: str, host: str, cost: object,
                 hash_password: Callable[[str, str, int], str]) -> Dict[str, str]:
    """Username to bcrypt hash; hash_password(password, salt, cost) does the hashing (Ansible's password_hash)."""
    checked_cost = check_cost(cost)
    salt = derived_salt(component, host)
    return {username: hash_password(password, salt, checked_cost) for username, password in check_users(users).items()}
