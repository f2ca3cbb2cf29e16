"""lab/k8s/build.py's pure parts: the wrapper go.mod, version flags, CoreDNS' plugin
selection, the pins, recipe keys and cache stamps. Nothing here builds anything."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "lab"))
from k8s import addons, build  # noqa: E402  (lab/ is not a package)

PINS = yaml.safe_load((REPO / "lab" / "kubernetes.yml").read_text())

UPSTREAM_GO_MOD = """module k8s.io/kubernetes

go 1.24.0

godebug default=go1.24

require (
\tk8s.io/api v0.0.0
\tgithub.com/blang/semver/v4 v4.0.0
)

replace (
\tk8s.io/api => ./staging/src/k8s.io/api
\tk8s.io/client-go => ./staging/src/k8s.io/client-go
)
"""


def test_wrapper_go_mod_points_staging_modules_at_published_versions():
    text = build.wrapper_go_mod(UPSTREAM_GO_MOD, "k8s.io/kubernetes", "v1.34.4", "v0.34.4")
    lines = [line.strip() for line in text.splitlines()]
    assert lines[0] == "module k8sbuild"
    assert "go 1.24.0" in lines and "godebug default=go1.24" in lines
    assert "require k8s.io/kubernetes v1.34.4" in lines
    assert "k8s.io/api => k8s.io/api v0.34.4" in lines
    assert "k8s.io/client-go => k8s.io/client-go v0.34.4" in lines
    assert "staging" not in text


def test_wrapper_go_mod_refuses_a_go_mod_without_staging_replaces():
    with pytest.raises(build.StepFailed, match="no staging module"):
        build.wrapper_go_mod("module k8s.io/kubernetes\n\ngo 1.24.0\n", "k8s.io/kubernetes",
                             "v1.34.4", "v0.34.4")


def test_version_ldflags_set_both_packages():
    flags = build.kubernetes_ldflags("1.34.4", "2026-01-01T00:00:00Z")
    for package in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        assert f"-X {package}.gitVersion=v1.34.4" in flags
        assert f"-X {package}.gitMajor=1" in flags and f"-X {package}.gitMinor=34" in flags


def test_kube_router_reports_its_release():
    flags = build.kube_router_ldflags("github.com/cloudnativelabs/kube-router/v2", "2.1.0", "2024-03-02T21:45:54Z")
    assert flags == ["-X github.com/cloudnativelabs/kube-router/v2/pkg/version.Version=v2.1.0",
                     "-X github.com/cloudnativelabs/kube-router/v2/pkg/version.BuildDate=2024-03-02T21:45:54Z"]


def test_the_build_date_is_the_module_versions_time_from_the_proxys_info_file(tmp_path):
    info = tmp_path / "v2.1.0.info"
    info.write_text('{"Version":"v2.1.0","Time":"2024-03-02T21:45:54Z"}')
    assert build.release_time({"Info": str(info)}) == "2024-03-02T21:45:54Z"
    assert build.release_time({}) == ""


# Lines of CoreDNS' plugin.cfg (v1.12.4): a bare package is one of CoreDNS' own plugins.
PLUGIN_CFG = """# Directives are registered in the order they should be executed.
metadata:metadata
health:health
prometheus:metrics
errors:errors
cache:cache
kubernetes:kubernetes
route53:route53
on:github.com/coredns/caddy/onevent
"""


def test_corefile_directives_are_the_server_blocks_first_words():
    corefile = ".:53 {\n    errors\n    health {\n        lameduck 5s\n    }\n    kubernetes cluster.local {\n" \
               "        pods insecure   # a comment\n    }\n    prometheus :9153\n    errors\n}\n"
    assert build.corefile_directives(corefile) == ["errors", "health", "kubernetes", "prometheus"]


def test_the_lab_builds_the_plugins_its_corefile_uses_and_no_cloud_provider():
    directives = build.corefile_directives(addons.COREFILE)
    assert set(directives) == {"errors", "health", "ready", "kubernetes", "prometheus", "cache",
                               "reload", "loadbalance"}


def test_plugin_packages_follow_plugin_cfg():
    assert build.plugin_packages(PLUGIN_CFG, ["prometheus", "kubernetes", "on"]) == [
        "github.com/coredns/coredns/plugin/metrics", "github.com/coredns/coredns/plugin/kubernetes",
        "github.com/coredns/caddy/onevent"]
    with pytest.raises(build.StepFailed, match=r"\['forward'\], which plugin.cfg does not name"):
        build.plugin_packages(PLUGIN_CFG, ["cache", "forward"])


def test_coredns_main_imports_the_plugins_and_runs_coremain():
    main = build.coredns_main(["github.com/coredns/coredns/plugin/metrics",
                               "github.com/coredns/coredns/plugin/cache"])
    assert main.index('_ "github.com/coredns/coredns/plugin/cache"') < main.index('_ "github.com/coredns/coredns/plugin/metrics"')
    assert '"github.com/coredns/coredns/coremain"' in main and "coremain.Run()" in main
    assert "core/plugin" not in main


def test_lean_go_mod_keeps_upstreams_versions_under_another_module_path():
    upstream = "module github.com/coredns/coredns\n\ngo 1.24.0\n\nrequire (\n\tgithub.com/miekg/dns v1.1.68\n)\n"
    lines = build.lean_go_mod(upstream, "github.com/coredns/coredns", "v1.12.4").splitlines()
    assert lines[0] == "module corednsbuild"
    assert "go 1.24.0" in lines and "\tgithub.com/miekg/dns v1.1.68" in lines
    assert lines[-1] == "require github.com/coredns/coredns v1.12.4"


def test_pins_are_in_one_file_and_consistent():
    assert PINS["kubernetes"]["version"].startswith("1.34.")
    minor = PINS["kubernetes"]["version"].split(".")[1]
    assert PINS["kubernetes"]["staging_version"] == f"v0.{minor}.{PINS['kubernetes']['version'].split('.')[2]}"
    assert PINS["coredns"]["image"].endswith(f":v{PINS['coredns']['version']}")
    assert set(PINS["kubernetes"]["commands"]) == {
        "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy",
        "kubectl", "kubeadm"}
    # The approved list's version of kube-router (its module path carries the major version).
    assert PINS["kube_router"]["version"] == "2.1.0"
    assert PINS["kube_router"]["module"].endswith(f"/v{PINS['kube_router']['version'].split('.')[0]}")


def test_recipe_key_changes_with_pins_revision_and_go(monkeypatch):
    key = build.recipe_key("etcd", PINS, "go1.26")
    assert key == build.recipe_key("etcd", PINS, "go1.26")
    assert key != build.recipe_key("etcd", PINS, "go1.27")
    other = {**PINS, "etcd": {**PINS["etcd"], "version": "3.6.99"}}
    assert key != build.recipe_key("etcd", other, "go1.26")
    # A pin of another component does not rebuild this one.
    assert key == build.recipe_key("etcd", {**PINS, "coredns": {"version": "9"}}, "go1.26")
    assert build.recipe_key("kube_router", PINS, "go1.26") != build.recipe_key("kube_router", PINS, "go1.27")
    monkeypatch.setitem(build.RECIPE_REVISIONS, "etcd", 99)
    assert key != build.recipe_key("etcd", PINS, "go1.26")
    # pause is C: the Go toolchain does not matter, its source does.
    assert build.recipe_key("pause", PINS, "go1.26") == build.recipe_key("pause", PINS, "go1.27")


# The keys the recipes had when the stamps of existing caches were written
# (lab/k8s_lab.py before it became the package lab/k8s/). A key that changes
# rebuilds that component on every warm machine: change these only together
# with a recipe change meant to do that (and a RECIPE_REVISIONS bump).
RECORDED_KEYS = {
    "kubernetes": "694390e96747a67abd48f8b079ca87da6921db823fbb66662879d67cb84f8688",
    "etcd": "9295f4f47cf8b0fd0d7e84820198a4771c8a2057ce752bf0d39964054678de17",
    "coredns": "4668e73f3078c559e69210b1544cce2a9c887202b2dea2cea67ad3f94d0b1f97",  # revision 2: the Corefile's plugins only
    "pause": "85e34cfe979c6ae90bbc267a6e1c9b4fe95ac40d6882ab77eada7ced7c4a7987",
    "kube_router": "afff46fa3b9c653f05c7bd157b351591d7837950fab1e2a8bb3637665ee03751",  # added with revision 1
}


def test_recipe_keys_depend_on_recipe_data_only_and_are_unchanged():
    pins = {"kubernetes": {"version": "1.0.0"}, "etcd": {"version": "2.0.0"},
            "coredns": {"version": "3.0.0"}, "pause": {"image": "example.org/pause:1"},
            "kube_router": {"version": "4.0.0"}}
    keys = {name: build.recipe_key(name, pins, "" if name == "pause" else "go1.0")
            for name in RECORDED_KEYS}
    assert keys == RECORDED_KEYS


def test_components_and_their_stamps_keep_their_places():
    components = build.components(PINS)
    assert list(components) == ["kubernetes", "etcd", "coredns", "pause", "kube_router"]
    for name, component in components.items():
        assert component.stamp == build.STAMPS / f"k8s-{name}.json"
    assert components["etcd"].outputs == (build.BIN / "etcd",)
    assert components["coredns"].outputs == (build.BIN / "coredns", build.IMAGES / "coredns.tar")
    assert components["pause"].outputs == (build.BIN / "pause", build.IMAGES / "pause.tar")
    assert components["kube_router"].outputs == (build.BIN / "kube-router",)
    assert components["kubernetes"].outputs == tuple(build.BIN / name for name in PINS["kubernetes"]["commands"])


def test_cache_state(tmp_path):
    output = tmp_path / "etcd"
    stamp = tmp_path / "stamp.json"
    assert build.cache_state(stamp, [output], "k") == "missing"
    output.write_text("binary")
    stamp.write_text(json.dumps({"recipe": "k", "sha256": {"etcd": build.sha256_of(output)}}))
    assert build.cache_state(stamp, [output], "k") == "hit"
    assert build.cache_state(stamp, [output], "other") == "recipe changed"
    output.write_text("tampered")
    assert "changed since it was built" in build.cache_state(stamp, [output], "k")
    output.unlink()
    assert build.cache_state(stamp, [output], "k") == "etcd missing"
