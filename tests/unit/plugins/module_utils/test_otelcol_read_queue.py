# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""spec.persistent_queue: where the disk queue lives, and its bound in MiB from the bytes sizer's release on."""

from __future__ import annotations

from typing import Any

import pytest

from ansible_collections.observability.lgtm.plugins.module_utils.otelcol_facts import (
    DEFAULT_DISK_QUEUE_MAX_MIB, DISK_QUEUE_BYTES_VERSION,
)
from ansible_collections.observability.lgtm.plugins.module_utils.otelcol_read_queue import (
    read_persistent_queue, read_persistent_queue_max_mib,
)
from ansible_collections.observability.lgtm.plugins.module_utils.otelcol_spec import KubernetesSpec, SpecError

BEFORE_BYTES = (0, 129, 0)


def test_directory_or_none() -> None:
    assert read_persistent_queue({}) is None
    assert read_persistent_queue({"persistent_queue": None}) is None
    assert read_persistent_queue({"persistent_queue": {"enabled": False}}) is None
    assert read_persistent_queue({"persistent_queue": {"directory": "/q", "max_mib": 64}}) == "/q"


@pytest.mark.parametrize(("queue", "message"), [
    ({"directory": "q"}, "spec.persistent_queue.directory: expected an absolute path"),
    ({"directory": "/q", "max_bytes": 1}, "spec.persistent_queue.max_bytes: unknown key; accepted keys: directory, enabled, intake_address, max_mib"),
    ("yes", "spec.persistent_queue: expected a mapping"),
])
def test_directory_refusals_name_the_key(queue: Any, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        read_persistent_queue({"persistent_queue": queue})


def test_bound_defaults_from_the_bytes_sizer_release_on() -> None:
    spec = {"persistent_queue": {"directory": "/q"}}
    assert read_persistent_queue_max_mib(spec, DISK_QUEUE_BYTES_VERSION) == DEFAULT_DISK_QUEUE_MAX_MIB
    assert read_persistent_queue_max_mib(spec, (0, 159, 0)) == DEFAULT_DISK_QUEUE_MAX_MIB
    # Older collectors count a disk queue in requests only: no bound in bytes.
    assert read_persistent_queue_max_mib(spec, BEFORE_BYTES) is None
    assert read_persistent_queue_max_mib({}, BEFORE_BYTES) is None


def test_bound_given() -> None:
    assert read_persistent_queue_max_mib({"persistent_queue": {"directory": "/q", "max_mib": 64}}, (0, 159, 0)) == 64


@pytest.mark.parametrize(("max_mib", "message"), [
    (0, r"spec.persistent_queue.max_mib: 0 is out of range; accepted: an integer >= 1"),
    ("1GiB", r"spec.persistent_queue.max_mib: expected an integer"),
    (True, r"spec.persistent_queue.max_mib: expected an integer"),
])
def test_bad_bound_names_the_key(max_mib: Any, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        read_persistent_queue_max_mib({"persistent_queue": {"directory": "/q", "max_mib": max_mib}}, (0, 159, 0))


def test_bound_refused_for_a_collector_without_the_bytes_sizer() -> None:
    with pytest.raises(SpecError, match=r"spec.persistent_queue.max_mib: collector 0.129.0 counts a disk queue in "
                                        r"requests only; a bound in bytes needs 0.130.0 or newer"):
        read_persistent_queue_max_mib({"persistent_queue": {"directory": "/q", "max_mib": 64}}, BEFORE_BYTES)


GATEWAY_1GI = KubernetesSpec(role="gateway", path="spec.kubernetes", storage_mib=1024)


def test_a_gateways_bound_defaults_to_half_its_claim() -> None:
    spec = {"persistent_queue": {"directory": "/q"}}
    assert read_persistent_queue_max_mib(spec, (0, 159, 0), GATEWAY_1GI) == 512
    # A gateway whose claim is not given (or a host) gets the default.
    unsized = KubernetesSpec(role="gateway", path="spec.kubernetes")
    assert read_persistent_queue_max_mib(spec, (0, 159, 0), unsized) == DEFAULT_DISK_QUEUE_MAX_MIB


def test_a_gateways_bound_fits_twice_in_its_claim() -> None:
    spec = {"persistent_queue": {"directory": "/q", "max_mib": 512}}
    assert read_persistent_queue_max_mib(spec, (0, 159, 0), GATEWAY_1GI) == 512
    spec["persistent_queue"]["max_mib"] = 513
    with pytest.raises(SpecError, match=r"spec.persistent_queue.max_mib: 513 MiB does not fit twice in the gateway's "
                                        r"claim \(spec.kubernetes.storage_size, 1024 MiB\).*give at most 512"):
        read_persistent_queue_max_mib(spec, (0, 159, 0), GATEWAY_1GI)
