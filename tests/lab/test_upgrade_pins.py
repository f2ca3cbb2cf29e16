"""The releases the upgrade scenario starts from (lab/versions.yml `upgrade_from`):
each is older than its pinned release, built from the same recipe, served where
the role downloads it from with the role variables that select it, and the
collector's is the pinned manifest with only the release versions replaced."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
PINS = yaml.safe_load((REPO / "lab" / "versions.yml").read_text())
REAL_CACHE = Path(os.environ.get("LGTM_CACHE", Path.home() / ".cache" / "observability-lgtm"))

sys.path.insert(0, str(REPO / "lab"))
import mirror as mirror_module  # noqa: E402  (lab/ is not a package)


def release(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def components_with_an_earlier_release() -> list[str]:
    return [name for name in mirror_module.RECIPES if mirror_module.upgrade_from(PINS, name)]


def test_every_component_names_its_earlier_release_or_why_there_is_none():
    for name in mirror_module.RECIPES:
        before = PINS[name].get("upgrade_from")
        assert before, f"{name}: no upgrade_from in lab/versions.yml"
        if "version" in before:
            assert release(before["version"]) < release(PINS[name]["version"]), (name, before)
            assert before.get("module_version", before.get("builder_version")), name
        else:
            assert before.get("proxy_refuses"), f"{name}: upgrade_from names neither a release nor what the proxy refused"
    assert components_with_an_earlier_release(), "no component has an earlier release to upgrade from"


def test_the_earlier_release_is_the_same_module_at_its_own_version():
    for name in components_with_an_earlier_release():
        pinned, before = mirror_module.pinned(PINS, name), mirror_module.upgrade_from(PINS, name)
        assert "upgrade_from" not in pinned and "upgrade_from" not in before
        assert set(before) - {"module_versions", "leave_out"} == set(pinned), name
        assert before.get("module", "") == pinned.get("module", ""), name
        for key in ("module_version", "builder_version"):
            if key in pinned:
                assert before[key] != pinned[key] and before[key].startswith("v"), (name, key)


def test_build_covers_both_releases_under_their_own_names():
    built = mirror_module.releases(PINS)
    for name in components_with_an_earlier_release():
        version = PINS[name]["upgrade_from"]["version"]
        earlier, pinned = built[f"{name}@{version}"], built[name]
        assert (earlier.component, earlier.version, pinned.version) == (name, version, PINS[name]["version"])
        assert earlier.directory != pinned.directory and earlier.stamp != pinned.stamp


def test_the_earlier_release_lives_where_the_role_downloads_it():
    paths = mirror_module.role_release_paths("jaeger", mirror_module.upgrade_from_role_vars(PINS, "jaeger"))
    before = PINS["jaeger"]["upgrade_from"]
    assert paths == mirror_module.ReleasePaths(
        Path(f"jaegertracing/jaeger/releases/download/{before['module_version']}"),
        f"jaeger-{before['version']}-linux-amd64.tar.gz", f"jaeger-{before['version']}.sha256sum.txt")
    # Jaeger's release tag is its v1 twin, the module version, for both releases.
    defaults = yaml.safe_load((REPO / "roles" / "jaeger" / "defaults" / "main.yml").read_text())
    assert defaults["jaeger_release_tag"] == PINS["jaeger"]["module_version"]
    assert before["role_vars"]["jaeger_release_tag"] == before["module_version"]


def test_pinned_recipe_keys_ignore_upgrade_from():
    """Adding or changing upgrade_from must not rebuild the pinned releases."""
    for name in mirror_module.RECIPES:
        without = {**PINS, name: {key: value for key, value in PINS[name].items() if key != "upgrade_from"}}
        assert mirror_module.releases(PINS)[name].pins == mirror_module.releases(without)[name].pins


def test_collector_manifest_of_the_earlier_release_replaces_only_release_versions():
    pinned = yaml.safe_load(mirror_module.collector_manifest(mirror_module.pinned(PINS, "otel_collector")))
    before_pins = mirror_module.upgrade_from(PINS, "otel_collector")
    before = yaml.safe_load(mirror_module.collector_manifest(before_pins))
    assert before["dist"] == {**pinned["dist"], "version": before_pins["version"]}

    def modules(manifest: dict) -> dict[str, str]:
        entries = [entry for value in manifest.values() for entry in (value if isinstance(value, list) else [value])
                   if isinstance(entry, dict) and "gomod" in entry]
        return dict(entry["gomod"].split() for entry in entries)
    left_out = set(before_pins.get("leave_out", []))
    assert left_out <= modules(pinned).keys()
    assert modules(before).keys() == modules(pinned).keys() - left_out
    replaced = before_pins["module_versions"]
    assert all(modules(before)[module] == replaced[version] for module, version in modules(pinned).items()
               if module not in left_out)
    assert before["telemetry"]["import"] == pinned["telemetry"]["import"]


def test_what_the_earlier_collector_leaves_out_is_not_in_the_stacks_config():
    """A module the earlier build leaves out must be one site.yml's collector spec does not use."""
    left_out = mirror_module.upgrade_from(PINS, "otel_collector").get("leave_out", [])
    spec = yaml.safe_load((REPO / "playbooks" / "vars" / "stack.yml").read_text())["lgtm_stack_collector_spec"]
    for module in left_out:
        if module.endswith("/pprofextension"):
            assert "pprof" not in spec.get("extensions", {}), "site.yml's spec turns pprof on"
        elif module.endswith("/hostmetricsreceiver"):
            assert not {"hostmetrics", "host_metrics"} & {name.split("/")[0] for name in spec.get("receivers", {})}, \
                "site.yml's gateway spec reads host metrics itself"
            # site.yml adds them to every collector unless lgtm_host_metrics is false: the upgrade
            # scenario converges the release before (N) so.
            converge = yaml.safe_load((REPO / "molecule" / "upgrade" / "converge.yml").read_text())
            deploy = next(play for play in converge if "ansible.builtin.import_playbook" in play)
            assert deploy["vars"].get("lgtm_host_metrics") is False, "molecule/upgrade converges N with host metrics"
        elif module.endswith("/loadbalancingexporter"):
            # Agents balance over several gateway hosts, or over a cluster's gateway pods; the
            # upgrade scenario has one gateway host, which its agents reach directly.
            inventory = yaml.safe_load((REPO / "molecule" / "upgrade" / "molecule.yml").read_text())["platforms"]
            gateways = [host for host in inventory if "otel_collector" in host.get("groups", [])]
            assert len(gateways) == 1, "molecule/upgrade has several gateway hosts: its agents need load_balancing"
        else:
            raise AssertionError(f"{module}: say here why the stack does not need it")


def test_collector_manifest_refuses_a_module_version_it_cannot_replace():
    before_pins = mirror_module.upgrade_from(PINS, "otel_collector")
    partial = {**before_pins, "module_versions": {"v0.159.0": "v0.158.0"}}
    with pytest.raises(mirror_module.StepFailed, match="has no replacement in upgrade_from.module_versions"):
        mirror_module.collector_manifest(partial)
    unknown = {**before_pins, "leave_out": ["example.com/no/such/module"]}
    with pytest.raises(mirror_module.StepFailed, match="leave_out names modules the manifest does not have"):
        mirror_module.collector_manifest(unknown)


def test_upgrade_scenario_converges_the_earlier_releases():
    """molecule/upgrade/converge.yml sets exactly the role variables that select each earlier release."""
    plays = yaml.safe_load((REPO / "molecule" / "upgrade" / "converge.yml").read_text())
    site = next(play for play in plays if play.get("ansible.builtin.import_playbook") == "observability.lgtm.site")
    # lgtm_host_metrics: what the earlier collector build leaves out (the test above).
    set_vars = set(site["vars"]) - {"lab_pins", "lgtm_host_metrics"}
    wanted = set()
    for name in components_with_an_earlier_release():
        wanted |= set(mirror_module.upgrade_from_role_vars(PINS, name))
    assert set_vars == wanted


def test_both_releases_of_each_component_are_built_and_match_their_checksums():
    """lab/setup.sh builds them (`mirror.py build` with no arguments)."""
    result = mirror_module.releases(PINS)
    for name in components_with_an_earlier_release():
        for key in (name, f"{name}@{PINS[name]['upgrade_from']['version']}"):
            built = result[key]
            stamp = REAL_CACHE / "stamps" / built.stamp.name
            assert stamp.is_file(), f"{key}: not built; run `make setup` (lab/mirror.py build)"
            listed = mirror_module.buildkit.read_sums_file(
                REAL_CACHE / "mirror" / built.paths.directory / built.paths.checksum_file, built.paths.artifact)
            assert listed == mirror_module.sha256_of(REAL_CACHE / "mirror" / built.paths.directory / built.paths.artifact)
