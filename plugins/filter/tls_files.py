# -*- coding: utf-8 -*-
# Copyright: observability.lgtm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where a component's TLS files live on its host: the one place that layout is written.

The shared lifecycle (roles/common) puts the CA, the host's certificate and its
key there, and each component role points its configuration at the same paths.
Documentation for ansible-doc is in the ``tls_files.yml`` sidecar file.
"""

from __future__ import annotations

from typing import Any, Dict

from ansible.errors import AnsibleFilterError

FILTER_NAME = "tls_files"
TLS_SUBDIRECTORY = "tls"
FILE_NAMES = {"ca_file": "ca.crt", "cert_file": "tls.crt", "key_file": "tls.key"}


def tls_files(config_dir: Any) -> Dict[str, str]:
    """Return {dir, ca_file, cert_file, key_file} under a component's configuration directory."""
    if not isinstance(config_dir, str) or not config_dir.startswith("/"):
        raise AnsibleFilterError(f"{FILTER_NAME}: expected a component's absolute configuration directory, got {config_dir!r}")
    directory = f"{config_dir.rstrip('/')}/{TLS_SUBDIRECTORY}"
    return {"dir": directory, **{key: f"{directory}/{name}" for key, name in FILE_NAMES.items()}}


class FilterModule:
    """The on-host layout of a component's TLS files."""

    def filters(self) -> Dict[str, Any]:
        return {FILTER_NAME: tls_files}
