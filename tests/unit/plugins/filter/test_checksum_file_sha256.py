"""The checksum_file_sha256 filter: the module's digest, or an error naming the file and the checksum URL."""
from __future__ import annotations

import hashlib

import pytest

pytest.importorskip("ansible")

from ansible.errors import AnsibleFilterError  # noqa: E402

from ansible_collections.observability.lgtm.plugins.filter.checksum_file_sha256 import (  # noqa: E402
    FilterModule, checksum_file_sha256,
)

FILE = "grafana_13.2.3_36482603486_linux_arm64.tar.gz"
SHA = hashlib.sha256(FILE.encode()).hexdigest()
URL = f"https://dl.grafana.com/grafana/release/13.2.3/{FILE}.sha256"


@pytest.mark.parametrize("content", [f"{SHA}\n", f"{SHA}  dist/{FILE}\n"], ids=["digest-alone", "dist-path"])
def test_both_forms_of_grafanas_sidecar_give_the_digest(content: str) -> None:
    assert checksum_file_sha256(content, FILE, URL) == SHA


def test_no_line_for_the_file_fails_naming_the_filter_the_file_and_the_url() -> None:
    with pytest.raises(AnsibleFilterError) as error:
        checksum_file_sha256(f"{SHA}  dist/grafana_13.2.3_36482603486_linux_amd64.tar.gz\n", FILE, URL)
    assert str(error.value).startswith(f"checksum_file_sha256: {URL} has no sha256 for {FILE}")


def test_without_a_url_the_message_says_the_checksum_file() -> None:
    with pytest.raises(AnsibleFilterError, match="^checksum_file_sha256: the checksum file has no sha256 for"):
        checksum_file_sha256("", FILE)


def test_the_plugin_offers_the_filter_by_its_name() -> None:
    assert FilterModule().filters() == {"checksum_file_sha256": checksum_file_sha256}
