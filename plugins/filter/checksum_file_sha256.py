# -*- coding: utf-8 -*-
# Copyright: observability.lgtm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The sha256 an upstream checksum file gives for one release file.

This file is the entry point only; the forms read are in
plugins/module_utils/checksum_file.py. Documentation for ansible-doc is in the
``checksum_file_sha256.yml`` sidecar file.
"""

from __future__ import annotations

from typing import Any, Dict

from ansible.errors import AnsibleFilterError

from ansible_collections.observability.lgtm.plugins.module_utils.checksum_file import ChecksumFileError, digest_for

FILTER_NAME = "checksum_file_sha256"


def checksum_file_sha256(content: Any, file_name: Any, checksum_url: Any = "the checksum file",
                         algorithm: Any = "sha256") -> str:
    """Return the digest (lower-case hex; sha256 unless upstream lists another) the checksum file gives for file_name."""
    try:
        return digest_for(content, file_name, str(checksum_url), str(algorithm))
    except ChecksumFileError as error:
        raise AnsibleFilterError(f"{FILTER_NAME}: {error}") from None


class FilterModule:
    """Digests from upstream checksum files."""

    def filters(self) -> Dict[str, Any]:
        return {FILTER_NAME: checksum_file_sha256}
