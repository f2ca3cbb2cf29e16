"""Each role downloads and verifies the release file of the host's machine architecture, or refuses the host.

One ansible-playbook run in check mode, one play per role, one inventory host per
case, all on localhost (connection local):

- aarch64 and x86_64 hosts (ansible_architecture set as a host variable), and for
  Jaeger a host whose collection-wide lgtm_architecture (arm64) overrides its
  fact and one with neither, whose architecture the download gathers: each play
  loads the role's own defaults and vars (its artifact and checksum URLs, and
  <role>_release_architecture, the stack catalogue's name of the host's
  architecture) and runs the shared lifecycle's download stage (roles/common
  tasks/download.yml) with the role's component description, against a loopback
  mirror holding, under upstream's paths, a file for each architecture and each
  upstream's checksum file in its own form (Grafana's arm64 sidecar in the
  `<sha256>  dist/<file>` form of 12.4.3 on, its amd64 one the digest alone).
  The controller downloads one file per architecture among the play's hosts;
  the test checks each URL against upstream's literal naming (upstream_releases.py),
  the sha256 given to get_url against the file's, and the file in the cache.
  The mirror's files are small stand-ins under the release files' names: check
  mode never unpacks or runs them.
- A checksum file without the host's line, and one with a wrong digest: the
  download fails naming the file and the checksum URL, or get_url's "did not match".
- ppc64le and s390x hosts run the real roles (ansible-playbook --check, tests/unit/roles/role_runs.py):
  each fails at the architecture check of the download stage, naming
  lgtm_architecture and ansible_architecture, with no task before it changed.
"""
from __future__ import annotations

import functools
import hashlib
import http.server
import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from role_runs import Results, run_roles_in_check_mode  # noqa: E402
from upstream_releases import MACHINES, UPSTREAM  # noqa: E402

REPO = Path(__file__).resolve().parents[3]
ROLES = list(UPSTREAM)
ARCH_CHECK = "observability.lgtm.common : Check the machine architecture of the host for {name}"
DOWNLOAD = "observability.lgtm.common : Download and verify against upstream's checksum file {name}"
REFUSED_MACHINES = ("ppc64le", "s390x")
# Hosts of the download plays: name suffix -> host variables.
HOSTS: Dict[str, Dict[str, Any]] = {
    "aarch64": {"ansible_architecture": "aarch64"},
    "x86_64": {"ansible_architecture": "x86_64"},
}
# Jaeger's play also has these: the collection-wide override wins over the fact, and
# without either the download gathers the architecture (this machine's).
JAEGER_HOSTS: Dict[str, Dict[str, Any]] = {
    "arm64-given": {"ansible_architecture": "x86_64", "lgtm_architecture": "arm64"},
    "gathered": {},
}
# Hosts that download on the host: host -> (mirror tree, role).
ON_HOST = {"mimir-on-host": ("ok", "mimir"), "prometheus-wrong-on-host": ("wrong", "prometheus"),
           "prometheus-missing-on-host": ("missing", "prometheus")}
HOST_CHECK = ("observability.lgtm.common : Download on the host and verify against upstream's checksum file, "
              "in check mode, {file}")
# Whose machine each host stands for.
HOST_MACHINE = {"aarch64": "aarch64", "x86_64": "x86_64", "arm64-given": "aarch64"}
GATHERED_MACHINE = {"x86_64": "x86_64", "aarch64": "aarch64"}.get(os.uname().machine, "")


def component_name(role: str) -> str:
    """The lifecycle's name of the role's component (the controller cache's folder)."""
    return {"otel_collector": "otelcol"}.get(role, role)


def artifact_bytes(role: str, machine: str) -> bytes:
    return f"{role} release file for {machine}\n".encode()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def checksum_files(role: str, broken: str = "") -> Dict[str, str]:
    """Upstream's checksum files of the role's release, path -> text, in its own form. broken: 'missing'
    leaves the aarch64 line out, 'wrong' gives the aarch64 file another digest."""
    files: Dict[str, List[str]] = {}
    for machine in MACHINES:
        _base, artifact, checksum, form = UPSTREAM[role][machine]
        name = artifact.rsplit("/", 1)[1]
        digest = sha256(artifact_bytes(role, machine))
        if machine == "aarch64" and broken == "wrong":
            digest = sha256(b"not the file")
        lines = files.setdefault(checksum, [])
        if machine == "aarch64" and broken == "missing":
            continue
        if form == "alone":
            # Grafana since 12.4.3: `<sha256>  dist/<file>` (its arm64 sidecar here); goreleaser's
            # split files (the collector's) hold the digest without a newline.
            if role == "grafana" and machine == "aarch64":
                lines.append(f"{digest}  dist/{name}\n")
            else:
                lines.append(digest if role == "otel_collector" else f"{digest}\n")
        elif form == "shasum-b":
            lines.append(f"{digest} *{name}\n")
        else:
            lines.append(f"{digest}  {name}\n")
        if role == "victorialogs":
            lines.append(f"{sha256(b'victoria-logs-prod')}  victoria-logs-prod\n")
    for checksum, lines in files.items():
        if len(lines) > 1 or role in ("tempo", "loki", "prometheus", "jaeger"):
            # Release-wide files list other files too.
            lines.insert(0, f"{sha256(b'other')}  {role}-other-file.tar.gz\n")
    return {checksum: "".join(lines) for checksum, lines in files.items()}


def write_release(root: Path, role: str, broken: str = "") -> None:
    for machine in MACHINES:
        _base, artifact, _checksum, _form = UPSTREAM[role][machine]
        (root / artifact.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
        (root / artifact.lstrip("/")).write_bytes(artifact_bytes(role, machine))
    for checksum, text in checksum_files(role, broken).items():
        (root / checksum.lstrip("/")).write_text(text)


# Every path the loopback mirror was asked for, in order.
SERVED: List[str] = []


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Logs nothing; notes each path asked for in SERVED (the checksum files are read by a lookup,
    which leaves no task result naming their URL)."""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base class's name)
        SERVED.append(self.path)


@pytest.fixture(scope="module")
def mirror(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tuple[str, Path]]:
    """A loopback mirror keeping upstream's paths: every role's release under /ok, and Prometheus'
    under /missing (no aarch64 line) and /wrong (a wrong aarch64 digest)."""
    root = tmp_path_factory.mktemp("mirror")
    for role in ROLES:
        write_release(root / "ok", role)
    write_release(root / "missing", "prometheus", "missing")
    write_release(root / "wrong", "prometheus", "wrong")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root
    finally:
        server.shutdown()


def download_play(role: str, group: str) -> Dict[str, Any]:
    """The role's defaults and vars as the role has them, then the lifecycle's download stage with its component."""
    return {
        "name": f"Download {role} for {group}", "hosts": group, "gather_facts": False,
        "tasks": [
            {"name": "Load the role's defaults and vars", "ansible.builtin.include_vars": {"file": "{{ item }}"},
             "loop": [str(REPO / "roles" / role / "defaults" / "main.yml"), str(REPO / "roles" / role / "vars" / "main.yml")]},
            {"name": "Download", "block": [{
                "name": f"Download {role}", "ansible.builtin.include_role": {
                    "name": "observability.lgtm.common", "tasks_from": "download"},
                "vars": {"common_component": "{{ %s_component }}" % role}}],
             "rescue": [{"name": "Refused", "ansible.builtin.debug": {"msg": "refused"}}]},
        ],
    }


@pytest.fixture(scope="module")
def downloads(mirror: Tuple[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Tuple[Results, Path]:
    """Every role's download stage for each case host, in one check-mode run; the results and the cache."""
    url, _root = mirror
    work = tmp_path_factory.mktemp("downloads")
    groups: Dict[str, Any] = {}
    plays = []
    for role in ROLES:
        hosts = {**HOSTS, **(JAEGER_HOSTS if role == "jaeger" else {})}
        groups[f"{role}_download"] = {"hosts": {f"{role}-{suffix}": variables for suffix, variables in hosts.items()},
                                      "vars": {"lgtm_artifact_mirror": f"{url}/ok"}}
        plays.append(download_play(role, f"{role}_download"))
    for broken in ("missing", "wrong"):
        groups[f"prometheus_{broken}"] = {"hosts": {f"prometheus-{broken}": {"ansible_architecture": "aarch64"}},
                                          "vars": {"lgtm_artifact_mirror": f"{url}/{broken}",
                                                   "lgtm_artifact_cache_dir": str(work / f"cache-{broken}")}}
        plays.append(download_play("prometheus", f"prometheus_{broken}"))
    # Downloads on the host (lgtm_artifact_download_on_host), which check mode verifies in a temporary directory.
    for host, (mirror_path, role) in ON_HOST.items():
        groups[f"{host.replace('-', '_')}"] = {
            "hosts": {host: {"ansible_architecture": "aarch64", "lgtm_artifact_download_on_host": True}},
            "vars": {"lgtm_artifact_mirror": f"{url}/{mirror_path}"}}
        plays.append(download_play(role, host.replace("-", "_")))
    inventory = {"all": {"children": groups, "vars": {
        "ansible_connection": "local", "ansible_python_interpreter": sys.executable,
        "lgtm_install_root": str(work / "opt"), "lgtm_artifact_cache_dir": str(work / "cache")}}}
    (work / "inventory.yml").write_text(yaml.safe_dump(inventory))
    (work / "play.yml").write_text(yaml.safe_dump(plays, sort_keys=False))
    result = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(work / "inventory.yml"),
         str(work / "play.yml"), "--check", "--forks", "5"],
        capture_output=True, text=True, check=False, timeout=900, cwd=work,
        env={**os.environ, "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json", "ANSIBLE_NOCOLOR": "1"})
    assert result.stdout.startswith("{"), result.stdout[-3000:] + result.stderr[-3000:]
    results: Results = {}
    for play in json.loads(result.stdout)["plays"]:
        for task in play["tasks"]:
            for host, outcome in task["hosts"].items():
                results.setdefault(host, []).append({**outcome, "task": task["task"]["name"]})
    return results, work


def items_of(results: Results, task: str, role: str) -> List[Dict[str, Any]]:
    """Every loop item of a task in the role's play, whichever host ran it (the controller's download runs once)."""
    hosts = {f"{role}-{suffix}" for suffix in {**HOSTS, **JAEGER_HOSTS}}
    return [item for host in hosts for outcome in results.get(host, []) if outcome["task"] == task
            for item in outcome.get("results", [])]


@pytest.mark.parametrize("role", ROLES)
def test_each_architecture_is_downloaded_from_upstreams_path_and_verified_by_its_own_line(
        role: str, downloads: Tuple[Results, Path], mirror: Tuple[str, Path]) -> None:
    results, work = downloads
    cache = work / "cache"
    url = f"{mirror[0]}/ok"
    name = component_name(role)
    expected = {"/ok" + UPSTREAM[role][machine][2] for machine in MACHINES}
    assert expected <= set(SERVED), (expected, SERVED)
    downloaded = {item["invocation"]["module_args"]["url"]: item["invocation"]["module_args"]["checksum"]
                  for item in items_of(results, DOWNLOAD.format(name=name), role)}
    assert downloaded == {url + UPSTREAM[role][machine][1]: "sha256:" + sha256(artifact_bytes(role, machine))
                          for machine in MACHINES}
    for machine in MACHINES:
        file_name = UPSTREAM[role][machine][1].rsplit("/", 1)[1]
        cached = list(cache.glob(f"{name}/*/{file_name}"))
        assert [path.read_bytes() for path in cached] == [artifact_bytes(role, machine)], (machine, cached)


@pytest.mark.parametrize(("role", "suffix"), [(role, suffix) for role in ROLES for suffix in HOSTS]
                         + [("jaeger", suffix) for suffix in JAEGER_HOSTS])
def test_a_supported_host_passes_the_architecture_check_and_notes_its_machine(
        role: str, suffix: str, downloads: Tuple[Results, Path]) -> None:
    outcomes = downloads[0][f"{role}-{suffix}"]
    assert not [outcome for outcome in outcomes if outcome.get("failed")], outcomes
    check = [outcome for outcome in outcomes if outcome["task"] == ARCH_CHECK.format(name=component_name(role))]
    assert check and not check[0].get("failed")
    noted = [outcome["ansible_facts"]["common_host_architecture"] for outcome in outcomes
             if "common_host_architecture" in outcome.get("ansible_facts", {})]
    given = {**HOSTS, **JAEGER_HOSTS}[suffix]
    assert noted == [given.get("lgtm_architecture", given.get("ansible_architecture", GATHERED_MACHINE))]


def test_a_host_without_facts_gathers_its_architecture_and_gets_this_machines_file(
        downloads: Tuple[Results, Path], mirror: Tuple[str, Path]) -> None:
    if not GATHERED_MACHINE:
        pytest.skip(f"this machine ({os.uname().machine}) is not one the roles install on")
    outcomes = downloads[0]["jaeger-gathered"]
    gathered = [outcome for outcome in outcomes if outcome["task"].endswith("names the release file of jaeger")]
    assert gathered and gathered[0]["ansible_facts"]["ansible_architecture"] == GATHERED_MACHINE
    assert not gathered[0].get("changed")


def test_a_checksum_file_without_the_hosts_line_fails_naming_the_file_and_the_url(
        downloads: Tuple[Results, Path], mirror: Tuple[str, Path]) -> None:
    outcomes = downloads[0]["prometheus-missing"]
    failed = [outcome for outcome in outcomes if outcome.get("failed")]
    assert failed and failed[0]["task"] == DOWNLOAD.format(name="prometheus"), outcomes
    _base, artifact, checksum, _form = UPSTREAM["prometheus"]["aarch64"]
    file_name = artifact.rsplit("/", 1)[1]
    messages = [item.get("msg", "") for item in failed[0].get("results", [])]
    assert [message for message in messages
            if f"{mirror[0]}/missing{checksum} has no sha256 for {file_name}" in message], failed[0]
    assert not list((downloads[1] / "cache-missing").glob(f"prometheus/*/{file_name}"))


def test_a_wrong_digest_fails_and_keeps_nothing(downloads: Tuple[Results, Path], mirror: Tuple[str, Path]) -> None:
    outcomes = downloads[0]["prometheus-wrong"]
    failed = [outcome for outcome in outcomes if outcome.get("failed")]
    assert failed and failed[0]["task"] == DOWNLOAD.format(name="prometheus"), outcomes
    assert "did not match" in json.dumps(failed[0])
    file_name = UPSTREAM["prometheus"]["aarch64"][1].rsplit("/", 1)[1]
    assert not list((downloads[1] / "cache-wrong").glob(f"prometheus/*/{file_name}"))


def test_check_mode_verifies_a_download_on_the_host_in_a_directory_it_removes(
        downloads: Tuple[Results, Path], mirror: Tuple[str, Path]) -> None:
    """A fresh host downloading for itself: the checksum file is fetched on the host, the file downloaded and
    verified in a temporary directory, which is gone afterwards; the host's download directory is not created."""
    outcomes = downloads[0]["mimir-on-host"]
    assert not [outcome for outcome in outcomes if outcome.get("failed")], outcomes
    _base, artifact, checksum, _form = UPSTREAM["mimir"]["aarch64"]
    file_name = artifact.rsplit("/", 1)[1]
    fetched = [outcome for outcome in outcomes if outcome["task"].startswith(
        "observability.lgtm.common : Fetch upstream's checksum file on the host")]
    assert fetched and fetched[0]["url"] == f"{mirror[0]}/ok{checksum}"
    checked = [outcome for outcome in outcomes if outcome["task"] == HOST_CHECK.format(file=file_name)]
    assert checked, [outcome["task"] for outcome in outcomes]
    assert checked[0]["invocation"]["module_args"]["checksum"] == "sha256:" + sha256(artifact_bytes("mimir", "aarch64"))
    assert not Path(checked[0]["dest"]).parent.exists()
    # Only the preview of the download directory says it would change.
    assert [outcome["task"] for outcome in outcomes if outcome.get("changed")] == [
        "observability.lgtm.common : Create the host download directory for mimir"]


def test_check_mode_on_the_host_refuses_a_wrong_digest_and_removes_the_download(
        downloads: Tuple[Results, Path]) -> None:
    outcomes = downloads[0]["prometheus-wrong-on-host"]
    file_name = UPSTREAM["prometheus"]["aarch64"][1].rsplit("/", 1)[1]
    failed = [outcome for outcome in outcomes if outcome.get("failed")]
    assert failed and failed[0]["task"] == HOST_CHECK.format(file=file_name), outcomes
    assert "did not match" in failed[0]["msg"]
    removed = [outcome for outcome in outcomes if outcome["task"].startswith(
        "observability.lgtm.common : Remove the temporary directory of the check")]
    assert removed and not Path(removed[0]["path"]).exists()


def test_on_the_host_a_checksum_file_without_the_files_line_fails_before_the_host_changes(
        downloads: Tuple[Results, Path], mirror: Tuple[str, Path]) -> None:
    outcomes = downloads[0]["prometheus-missing-on-host"]
    failed = [position for position, outcome in enumerate(outcomes) if outcome.get("failed")]
    assert failed, [outcome["task"] for outcome in outcomes]
    refusal = outcomes[failed[0]]
    assert refusal["task"] == ("observability.lgtm.common : Read the digest of the release file from upstream's "
                               "checksum file for prometheus"), refusal
    _base, artifact, checksum, _form = UPSTREAM["prometheus"]["aarch64"]
    assert f"{mirror[0]}/missing{checksum} has no sha256 for {artifact.rsplit('/', 1)[1]}" in refusal["msg"]
    assert not [outcome["task"] for outcome in outcomes[:failed[0]] if outcome.get("changed")]


@pytest.fixture(scope="module")
def refusals(tmp_path_factory: pytest.TempPathFactory) -> Results:
    """The real roles in check mode on a host given as ppc64le by the collection-wide lgtm_architecture,
    and on one whose ansible_architecture is s390x (no role gathers facts over it: the collector's memory
    limit is set, Grafana's admin password given, as a user would)."""
    needs = {"otel_collector": {"otel_collector_memory_limit_mib": 512}, "grafana": {"grafana_admin_password": "s3cret-Pa55"}}
    given = {"ppc64le": "lgtm_architecture", "s390x": "ansible_architecture"}
    hosts = {role: {f"{role}-{machine}-role": {given[machine]: machine, **needs.get(role, {})}
                    for machine in REFUSED_MACHINES}
             for role in ROLES}
    results, _output = run_roles_in_check_mode(tmp_path_factory.mktemp("refusals"), hosts, "Refuse the architecture of")
    return results


@pytest.mark.parametrize(("role", "machine"), [(role, machine) for role in ROLES for machine in REFUSED_MACHINES])
def test_the_role_refuses_another_architecture_before_any_change(role: str, machine: str, refusals: Results) -> None:
    outcomes = refusals[f"{role}-{machine}-role"]
    failed = [position for position, outcome in enumerate(outcomes) if outcome.get("failed")]
    assert failed, [outcome["task"] for outcome in outcomes]
    refusal = outcomes[failed[0]]
    assert refusal["task"] == ARCH_CHECK.format(name=component_name(role)), refusal
    assert not [outcome["task"] for outcome in outcomes[:failed[0] + 1] if outcome.get("changed")]
    message = refusal["msg"]
    assert message.startswith("Nothing was changed") and f"machine architecture is '{machine}'" in message
    assert "lgtm_architecture" in message and "ansible_architecture" in message and "x86_64 and aarch64" in message
