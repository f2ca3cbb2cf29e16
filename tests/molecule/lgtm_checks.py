"""Checks every Molecule scenario makes of a component on a lab host.

The scenarios' testinfra tests import this module (the shared Molecule config
puts this folder on the verifier's PYTHONPATH), so a promise the collection
makes of every component -- its own unprivileged user, a hardened unit, private
config files, a failed install or config changing nothing -- is checked the
same way everywhere.
"""
from __future__ import annotations

import contextlib
import functools
import http.server
import json
import os
import pathlib
import secrets
import socket
import struct
import subprocess
import threading
import time
from typing import Any, Callable, Iterator, TypeVar

import pytest

T = TypeVar("T")

# systemd properties every unit written by the common role must have.
UNIT_HARDENING = {
    "NoNewPrivileges": "yes",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "PrivateDevices": "yes",
    "ProtectKernelTunables": "yes",
    "ProtectKernelModules": "yes",
    "ProtectControlGroups": "yes",
    "RestrictSUIDSGID": "yes",
    "RestrictRealtime": "yes",
    "RestrictNamespaces": "yes",
    "LockPersonality": "yes",
    "MemoryDenyWriteExecute": "yes",
    "CapabilityBoundingSet": "",
    "AmbientCapabilities": "",
    "SystemCallArchitectures": "native",
    "UMask": "0027",
}


def assert_runs_as_own_user(host: Any, service: str) -> None:
    """The service is up, enabled, and its process runs as its own system user."""
    user = host.user(service)
    assert user.shell == "/usr/sbin/nologin"
    assert user.uid < 1000, f"{service} should be a system user, has uid {user.uid}"
    unit = host.service(service)
    assert unit.is_running
    assert unit.is_enabled
    pid = host.check_output(f"systemctl show -p MainPID --value {service}")
    assert host.check_output(f"ps -o user= -p {pid}") == service


def unit_hardening_gaps(host: Any, service: str) -> dict[str, tuple[str, str]]:
    """Hardening properties the running unit lacks: {property: (expected, actual)}."""
    gaps = {}
    for prop, expected in UNIT_HARDENING.items():
        actual = host.check_output(f"systemctl show -p {prop} --value {service}")
        if actual != expected:
            gaps[prop] = (expected, actual)
    return gaps


def assert_config_private(host: Any, path: str, group: str) -> None:
    """Config is root's, readable by the service's group only."""
    config = host.file(path)
    assert config.user == "root"
    assert config.group == group
    assert config.mode == 0o640


def component_state(host: Any, service: str, files: list[str], binary_link: str) -> dict[str, str]:
    """What a failed run must leave as it was: files, unit, process, install trees
    and where the binary link points."""
    state = {path: host.check_output(f"sha256sum {path}") for path in files}
    state["link"] = host.check_output(f"readlink -f {binary_link}")
    state["unit"] = host.check_output(f"sha256sum /etc/systemd/system/{service}.service")
    state["pid"] = host.check_output(f"systemctl show -p MainPID --value {service}")
    state["trees"] = host.check_output(f"ls /opt/observability-lgtm/{service}")
    return state


@functools.lru_cache(maxsize=None)
def refusal_host_name() -> str:
    """The inventory host the refusal and lifecycle cases run on: the first in order, which is each
    component scenario's Debian 12 host (<component>-debian12 sorts before -debian13)."""
    from testinfra.utils.ansible_runner import AnsibleRunner  # the verifier's
    return AnsibleRunner(os.environ["MOLECULE_INVENTORY_FILE"]).get_hosts("all")[0]


@pytest.fixture(scope="module")
def first_host() -> Any:
    """A pytest fixture for a scenario's refusal and lifecycle cases (take it into a test module with
    `from lgtm_checks import first_host`): they run on one host, refusal_host_name(), instead of once per
    host. What they prove is the role's own logic -- a bad value named before any change, a checksum or
    a configuration the component's binary refuses changing nothing, a version change, state=absent --
    which the controller and the same release binary carry out alike on Debian 12 and 13; each run costs
    a playbook on a host (5-15 CPU-seconds), the largest share of a component scenario's time. Every
    host still gets the check-mode run, the converge, the idempotent re-run and the contract and API
    tests, and the stack scenarios run these roles on both releases again (distributed on Debian 13)."""
    import testinfra  # the verifier's

    return testinfra.get_host(f"ansible://{refusal_host_name()}",
                              ansible_inventory=os.environ["MOLECULE_INVENTORY_FILE"])


def apply_converge(host: Any, extra_vars: dict[str, Any], check: bool = False) -> tuple[int, str]:
    """Run the scenario's converge playbook again on one host with extra vars (in check
    mode with `check`); return its exit code and its output (stdout and stderr together,
    since Molecule's ansible.cfg sends failed results to stderr)."""
    playbook = pathlib.Path(os.environ["MOLECULE_SCENARIO_DIRECTORY"]) / "converge.yml"
    result = subprocess.run(
        ["ansible-playbook", "-i", os.environ["MOLECULE_INVENTORY_FILE"], str(playbook),
         "--limit", host.backend.host, "-e", json.dumps(extra_vars), *(["--check"] if check else [])],
        capture_output=True, text=True, timeout=900, check=False)
    return result.returncode, result.stdout + result.stderr


def assert_refused_unchanged(host: Any, state: Callable[[], dict[str, str]], extra_vars: dict[str, Any],
                             expected: str) -> str:
    """Apply the converge again with bad extra vars: the play must fail, say
    `expected`, and leave the component's state exactly as it was. Returns the
    play's output for further checks."""
    before = state()
    rc, output = apply_converge(host, extra_vars)
    assert rc != 0, output
    assert expected in output, output
    assert state() == before
    return output


def poll(probe: Callable[[], T], seconds: int = 30) -> T:
    """Call probe once a second until it returns something truthy or time runs
    out; return its last result (ingest paths are asynchronous everywhere)."""
    result = probe()
    deadline = time.monotonic() + seconds
    while not result and time.monotonic() < deadline:
        time.sleep(1)
        result = probe()
    return result


REPO = pathlib.Path(__file__).resolve().parents[2]

# The lab's artifact mirror on the controller (lab/mirror.py), upstream's paths.
MIRROR_DIR = pathlib.Path(os.environ.get("LGTM_CACHE", pathlib.Path.home() / ".cache" / "observability-lgtm")) / "mirror"


def controller_address(host: Any) -> str:
    """The controller's address on a lab host's network: the host's default
    gateway (the Docker bridge), read from /proc since the images have no `ip`."""
    for line in host.file("/proc/net/route").content_string.splitlines()[1:]:
        fields = line.split()
        if fields[1] == "00000000":
            return socket.inet_ntoa(struct.pack("<L", int(fields[2], 16)))
    raise AssertionError(f"{host.backend.host} has no default route")


@contextlib.contextmanager
def serve_directory(directory: pathlib.Path, address: str = "127.0.0.1") -> Iterator[str]:
    """Serve a folder over HTTP: on loopback for the controller (a wrong checksum
    file, say), or on controller_address() for the lab hosts."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer((address, 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{address}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def role_defaults(role: str) -> dict[str, Any]:
    """A role's defaults/main.yml: the pinned version and defaults the tests expect."""
    import yaml  # the verifier's; this module is also imported outside pytest
    return yaml.safe_load((REPO / "roles" / role / "defaults" / "main.yml").read_text())


def component_contract(service: str, version: str, binaries: dict[str, str], version_command: str,
                       config_files: list[str], data_dir: str, ports: list[int]) -> dict[str, Callable[..., None]]:
    """The tests every component scenario runs, made once: the pinned version,
    the versioned install tree, its own system user, private config, a hardened
    unit and explicit listeners. A scenario's test module takes them with
    `globals().update(component_contract(...))` and adds its own API round trip
    and negative cases. `binaries` maps a file of the release tree to its link
    name in /usr/local/bin."""
    tree = f"/opt/observability-lgtm/{service}"

    def test_binaries_report_the_pinned_version(host: Any) -> None:
        assert version in host.check_output(version_command)

    def test_binaries_live_in_a_versioned_tree(host: Any) -> None:
        assert host.file(f"{tree}/current").linked_to == f"{tree}/{version}"
        for path, link in binaries.items():
            assert host.check_output(f"readlink /usr/local/bin/{link}") == f"{tree}/current/{path}"
            binary = host.file(f"{tree}/{version}/{path}")
            assert (binary.user, binary.mode) == ("root", 0o755)

    def test_service_runs_as_its_own_system_user(host: Any) -> None:
        assert_runs_as_own_user(host, service)
        assert host.user(service).home == data_dir

    def test_config_and_data_modes(host: Any) -> None:
        for path in config_files:
            assert_config_private(host, path, service)
        directory = host.file(f"/etc/{service}")
        assert (directory.user, directory.group, directory.mode) == ("root", service, 0o750)
        data = host.file(data_dir)
        assert (data.user, data.group, data.mode) == (service, service, 0o750)

    def test_unit_is_hardened(host: Any) -> None:
        assert unit_hardening_gaps(host, service) == {}
        assert host.check_output(f"systemctl show -p ReadWritePaths --value {service}") == data_dir

    @pytest.mark.parametrize("port", ports)
    def test_listens_on_explicit_addresses(host: Any, port: int) -> None:
        # The roles bind 0.0.0.0 by default; a Go server may take the IPv6
        # wildcard with it ([::]), or not (VictoriaLogs binds IPv4 only).
        listening = set(host.socket.get_listening_sockets())
        assert {f"tcp://0.0.0.0:{port}", f"tcp://:::{port}"} & listening, sorted(listening)

    return {name: test for name, test in locals().items() if name.startswith("test_")}


def send_otlp_span(host: Any, url: str = "http://127.0.0.1:4318/v1/traces") -> tuple[str, str]:
    """POST one span over OTLP/HTTP JSON from the host; return its trace ID and name."""
    trace_id = secrets.token_hex(16)
    span_name = f"molecule-{secrets.token_hex(4)}"
    now = time.time_ns()
    payload = {"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "lgtm-molecule"}}]},
        "scopeSpans": [{"scope": {"name": "molecule"}, "spans": [{
            "traceId": trace_id, "spanId": secrets.token_hex(8), "name": span_name, "kind": 2,
            "startTimeUnixNano": str(now - 5_000_000), "endTimeUnixNano": str(now)}]}]}]}
    host.check_output("curl -fsS -H %s --data-binary %s %s", "Content-Type: application/json", json.dumps(payload), url)
    return trace_id, span_name


# A digest no release file has.
WRONG_DIGEST = "0" * 64


def assert_checksum_mismatch_refused(host: Any, state: Callable[[], dict[str, str]], tmp_path: pathlib.Path,
                                     extra_vars: dict[str, Any], checksum_var: str, checksum_file: str,
                                     listing: str) -> None:
    """Serve a checksum file named as upstream names it, whose `listing` (in
    upstream's line format) gives the artifact a wrong digest: the play must
    stop at the download and change nothing."""
    (tmp_path / checksum_file).write_text(listing)
    with serve_directory(tmp_path) as url:
        assert_refused_unchanged(host, state, {**extra_vars, checksum_var: f"{url}/{checksum_file}"}, "did not match")


def lifecycle_tests(role: str, service: str, version: str, links: list[str], ready: Callable[[Any], bool],
                    same_release_vars: dict[str, str]) -> dict[str, Callable[..., None]]:
    """The shared lifecycle proven on one component (the same code path serves
    every component), on its first host (first_host): a version change and state=absent, each undone after.
    `same_release_vars` points a second "version" at the pinned release's files."""
    tree = f"/opt/observability-lgtm/{service}"
    data_dir = f"/var/lib/{service}"

    def pid(host: Any) -> str:
        return host.check_output(f"systemctl show -p MainPID --value {service}")

    def marker(host: Any) -> str:
        path = f"{data_dir}/lifecycle-{secrets.token_hex(4)}"
        host.check_output(f"touch {path}")
        return path

    def test_version_change_installs_a_new_tree_restarts_and_keeps_data(first_host: Any) -> None:
        host = first_host
        kept = marker(host)
        before = pid(host)
        upgraded = f"{version}-1"
        rc, output = apply_converge(host, {f"{role}_version": upgraded, **same_release_vars})
        assert rc == 0, output
        assert host.file(f"{tree}/current").linked_to == f"{tree}/{upgraded}"
        for link in links:
            assert host.check_output(f"readlink -f /usr/local/bin/{link}").startswith(f"{tree}/{upgraded}/")
        upgraded_pid = pid(host)
        assert upgraded_pid != before
        assert poll(lambda: ready(host))
        assert host.file(kept).exists
        # Back to the pinned version: the links switch back and the service restarts on it.
        rc, output = apply_converge(host, {})
        assert rc == 0, output
        assert host.file(f"{tree}/current").linked_to == f"{tree}/{version}"
        assert pid(host) != upgraded_pid
        assert poll(lambda: ready(host))
        assert host.file(kept).exists
        host.check_output(f"rm -f {kept}")

    def test_hand_edits_are_put_back_on_the_next_run(first_host: Any) -> None:
        host = first_host
        # A re-run skips install and configure when the host already is what
        # they would make it (observability.lgtm.host_state); any hand edit
        # must send it down the full path and be undone.
        unit = f"/etc/systemd/system/{service}.service"
        config = host.check_output(f"find /etc/{service} -maxdepth 1 -type f -name '*.y*ml' -print -quit") or unit
        before = {path: host.file(path).sha256sum for path in (unit, config)}
        host.check_output(f"echo '# edited by hand' >> {config} && echo '# edited by hand' >> {unit}")
        host.check_output(f"chmod 0755 /etc/{service} && rm -f /usr/local/bin/{links[0]}")
        started = pid(host)
        rc, output = apply_converge(host, {})
        assert rc == 0, output
        assert {path: host.file(path).sha256sum for path in (unit, config)} == before
        assert host.file(f"/etc/{service}").mode == 0o750
        assert host.file(f"/usr/local/bin/{links[0]}").linked_to.startswith(f"{tree}/{version}/")
        assert pid(host) != started, "the restored configuration must be the one running"
        assert poll(lambda: ready(host))

    def test_state_absent_removes_the_component_and_keeps_its_data(first_host: Any) -> None:
        host = first_host
        kept = marker(host)
        rc, output = apply_converge(host, {f"{role}_state": "absent"})
        assert rc == 0, output
        assert not host.service(service).is_running
        assert not host.file(f"/etc/systemd/system/{service}.service").exists
        assert not host.file(f"/etc/{service}").exists
        assert not host.file(tree).exists
        for link in links:
            assert not host.file(f"/usr/local/bin/{link}").exists
        assert host.file(kept).exists, f"data must be kept unless {role}_purge_data"
        assert host.user(service).exists, f"the user owning the data must be kept unless {role}_purge_data"
        rc, output = apply_converge(host, {})
        assert rc == 0, output
        assert poll(lambda: ready(host))
        host.check_output(f"rm -f {kept}")

    # The tests take the first_host fixture (the module gets it with them).
    return {"first_host": first_host,
            **{name: test for name, test in locals().items() if name.startswith("test_")}}
