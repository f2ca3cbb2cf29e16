# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The tls_files filter: the one place the on-host layout of a component's TLS files is written."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.observability.lgtm.plugins.filter.tls_files import tls_files


def test_files_live_under_the_component_configuration_directory():
    assert tls_files("/etc/jaeger/") == {"dir": "/etc/jaeger/tls", "ca_file": "/etc/jaeger/tls/ca.crt",
                                         "cert_file": "/etc/jaeger/tls/tls.crt", "key_file": "/etc/jaeger/tls/tls.key"}


@pytest.mark.parametrize("bad", ["etc/jaeger", "", None, 3])
def test_a_relative_or_missing_directory_is_refused(bad):
    with pytest.raises(AnsibleFilterError, match="tls_files: expected a component's absolute configuration directory"):
        tls_files(bad)
