"""The lab Kubernetes' pure parts: the wrapper go.mod, version flags, cache
stamps, generated configuration, the network plan (guards and their undo),
the volume provisioner's decisions, image archives and image names. Nothing
here starts a process or touches the machine's network."""
from __future__ import annotations

import io
import ipaddress
import json
import sys
import tarfile
import tomllib
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "lab"))
import k8s_lab  # noqa: E402  (lab/ is not a package)

PINS = yaml.safe_load((REPO / "lab" / "kubernetes.yml").read_text())
LAYOUT = k8s_lab.Layout(run=Path("/c/run"), runtime=Path("/run/x"), containerd_root=Path("/c/ctd"),
                        bin=Path("/c/bin"))

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
    text = k8s_lab.wrapper_go_mod(UPSTREAM_GO_MOD, "k8s.io/kubernetes", "v1.34.4", "v0.34.4")
    lines = [line.strip() for line in text.splitlines()]
    assert lines[0] == "module k8sbuild"
    assert "go 1.24.0" in lines and "godebug default=go1.24" in lines
    assert "require k8s.io/kubernetes v1.34.4" in lines
    assert "k8s.io/api => k8s.io/api v0.34.4" in lines
    assert "k8s.io/client-go => k8s.io/client-go v0.34.4" in lines
    assert "staging" not in text


def test_wrapper_go_mod_refuses_a_go_mod_without_staging_replaces():
    with pytest.raises(k8s_lab.StepFailed, match="no staging module"):
        k8s_lab.wrapper_go_mod("module k8s.io/kubernetes\n\ngo 1.24.0\n", "k8s.io/kubernetes",
                               "v1.34.4", "v0.34.4")


def test_version_ldflags_set_both_packages():
    flags = k8s_lab.kubernetes_ldflags("1.34.4", "2026-01-01T00:00:00Z")
    for package in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        assert f"-X {package}.gitVersion=v1.34.4" in flags
        assert f"-X {package}.gitMajor=1" in flags and f"-X {package}.gitMinor=34" in flags


def test_pins_are_in_one_file_and_consistent():
    assert PINS["kubernetes"]["version"].startswith("1.34.")
    minor = PINS["kubernetes"]["version"].split(".")[1]
    assert PINS["kubernetes"]["staging_version"] == f"v0.{minor}.{PINS['kubernetes']['version'].split('.')[2]}"
    assert PINS["coredns"]["image"].endswith(f":v{PINS['coredns']['version']}")
    assert set(PINS["kubernetes"]["commands"]) == {
        "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy",
        "kubectl", "kubeadm"}


def test_recipe_key_changes_with_pins_revision_and_go(monkeypatch):
    key = k8s_lab.recipe_key("etcd", PINS, "go1.26")
    assert key == k8s_lab.recipe_key("etcd", PINS, "go1.26")
    assert key != k8s_lab.recipe_key("etcd", PINS, "go1.27")
    other = {**PINS, "etcd": {**PINS["etcd"], "version": "3.6.99"}}
    assert key != k8s_lab.recipe_key("etcd", other, "go1.26")
    # A pin of another component does not rebuild this one.
    assert key == k8s_lab.recipe_key("etcd", {**PINS, "coredns": {"version": "9"}}, "go1.26")
    monkeypatch.setitem(k8s_lab.RECIPE_REVISIONS, "etcd", 99)
    assert key != k8s_lab.recipe_key("etcd", PINS, "go1.26")
    # pause is C: the Go toolchain does not matter, its source does.
    assert k8s_lab.recipe_key("pause", PINS, "go1.26") == k8s_lab.recipe_key("pause", PINS, "go1.27")


def test_cache_state(tmp_path):
    output = tmp_path / "etcd"
    stamp = tmp_path / "stamp.json"
    assert k8s_lab.cache_state(stamp, [output], "k") == "missing"
    output.write_text("binary")
    stamp.write_text(json.dumps({"recipe": "k", "sha256": {"etcd": k8s_lab.sha256_of(output)}}))
    assert k8s_lab.cache_state(stamp, [output], "k") == "hit"
    assert k8s_lab.cache_state(stamp, [output], "other") == "recipe changed"
    output.write_text("tampered")
    assert "changed since it was built" in k8s_lab.cache_state(stamp, [output], "k")
    output.unlink()
    assert k8s_lab.cache_state(stamp, [output], "k") == "etcd missing"


def test_containerd_config():
    config = tomllib.loads(k8s_lab.containerd_config(LAYOUT, "registry.k8s.io/pause:3.10"))
    assert config["version"] == 2
    assert config["root"] == "/c/ctd" and config["state"] == "/run/x/containerd"
    assert config["grpc"]["address"] == "/run/x/containerd/containerd.sock"
    cri = config["plugins"]["io.containerd.grpc.v1.cri"]
    assert cri["restrict_oom_score_adj"] is True
    assert cri["sandbox_image"] == "registry.k8s.io/pause:3.10"
    runc = cri["containerd"]["runtimes"]["runc"]
    assert runc["options"]["SystemdCgroup"] is False and runc["options"]["Root"] == "/run/x/runc"
    assert cri["cni"] == {"bin_dir": "/usr/lib/cni", "conf_dir": "/c/run/cni/net.d"}


def test_cni_conflist_uses_the_pod_range_and_no_masquerade():
    bridge = k8s_lab.cni_conflist(LAYOUT)["plugins"][0]
    assert bridge["type"] == "bridge" and bridge["isGateway"] and bridge["hairpinMode"]
    assert bridge["ipMasq"] is False
    assert bridge["ipam"]["ranges"] == [[{"subnet": k8s_lab.POD_CIDR}]]
    assert len(bridge["bridge"]) <= 15


def test_kubeadm_config_pins_the_version_and_the_ranges():
    init, cluster = yaml.safe_load_all(k8s_lab.kubeadm_config(LAYOUT, "1.34.4"))
    assert init["nodeRegistration"]["name"] == k8s_lab.NODE_NAME
    assert init["nodeRegistration"]["criSocket"] == "unix:///run/x/containerd/containerd.sock"
    assert cluster["kubernetesVersion"] == "v1.34.4"
    assert cluster["networking"]["serviceSubnet"] == "10.96.0.0/16"
    assert cluster["certificatesDir"] == "/c/run/pki"


def test_kubelet_config():
    config = k8s_lab.kubelet_config(LAYOUT)
    assert config["cgroupDriver"] == "cgroupfs" and config["failCgroupV1"] is False
    assert config["clusterDNS"] == [k8s_lab.DNS_IP]
    assert config["imageGCHighThresholdPercent"] == 100
    assert config["containerRuntimeEndpoint"] == "unix:///run/x/containerd/containerd.sock"


def test_kube_proxy_config():
    config = k8s_lab.kube_proxy_config(LAYOUT)
    assert config["mode"] == "iptables" and config["conntrack"]["maxPerCore"] == 0
    assert config["clusterCIDR"] == k8s_lab.POD_CIDR


def test_processes_run_from_the_lab_binaries_in_start_order():
    procs = k8s_lab.processes(LAYOUT)
    assert [p.name for p in procs] == ["containerd", "etcd", "kube-apiserver", "kube-controller-manager",
                                       "kube-scheduler", "kubelet", "kube-proxy"]
    for process in procs[1:]:
        assert process.argv[0] == f"/c/bin/{process.name}"
    apiserver = procs[2].argv
    assert "--authorization-mode=Node,RBAC" in apiserver
    assert "--service-cluster-ip-range=10.96.0.0/16" in apiserver
    assert "--leader-elect=false" in procs[3].argv and "--leader-elect=false" in procs[4].argv


def test_coredns_has_no_loop_no_forward_and_the_fixed_service_ip():
    docs = {d["kind"]: d for d in k8s_lab.coredns_manifests("registry.k8s.io/coredns/coredns:v1.12.4")}
    corefile = docs["ConfigMap"]["data"]["Corefile"]
    assert "loop" not in corefile.split() and "forward" not in corefile
    assert docs["Service"]["spec"]["clusterIP"] == "10.96.0.10"
    container = docs["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    assert container["imagePullPolicy"] == "Never"


def test_storage_class_is_the_default():
    sc = k8s_lab.storage_class()
    assert sc["metadata"]["annotations"]["storageclass.kubernetes.io/is-default-class"] == "true"
    assert sc["provisioner"] == k8s_lab.PROVISIONER


def claim(name: str, phase: str = "Pending", klass: str = k8s_lab.STORAGE_CLASS, **spec):
    return {"metadata": {"name": name, "namespace": "ns", "uid": f"uid-{name}"},
            "spec": {"storageClassName": klass, "accessModes": ["ReadWriteOnce"],
                     "resources": {"requests": {"storage": "1Gi"}}, **spec},
            "status": {"phase": phase}}


def test_provisioner_makes_one_pv_per_pending_claim_of_its_class():
    claims = [claim("a"), claim("b", phase="Bound", volumeName="pv"), claim("c", klass="other"),
              claim("d", volumeMode="Block"), claim("e")]
    existing = [k8s_lab.persistent_volume_for(claim("e"), Path("/v/e"))]
    assert [c["metadata"]["name"] for c in k8s_lab.claims_to_provision(claims, existing)] == ["a"]
    volume = k8s_lab.persistent_volume_for(claim("a"), Path("/v/a"))
    assert volume["spec"]["claimRef"]["uid"] == "uid-a"
    assert volume["spec"]["capacity"]["storage"] == "1Gi"
    assert volume["spec"]["hostPath"]["path"] == "/v/a"
    assert volume["spec"]["persistentVolumeReclaimPolicy"] == "Delete"


def test_provisioner_deletes_only_its_released_volumes():
    ours = k8s_lab.persistent_volume_for(claim("a"), Path("/v/a"))
    released = {**ours, "status": {"phase": "Released"}}
    foreign = {**released, "metadata": {"name": "x", "annotations": {}}}
    bound = {**ours, "status": {"phase": "Bound"}}
    assert k8s_lab.volumes_to_delete([released, foreign, bound]) == [released]


def test_network_plan_guards_come_first_and_every_host_change_is_undone():
    plan = k8s_lab.network_plan(["eth0"])
    names = [change.name for change in plan]
    assert names[0] == "netns"
    # The host's FORWARD drop exists before the veth does.
    assert names.index("host: drop lgtmk8s-h -> eth0") < names.index("veth")
    guards = [change for change in plan if change.guard]
    assert {g.name for g in guards} == {
        "host: drop lgtmk8s-h -> eth0", "host: drop lgtmk8s-h -> eth0 (IPv6)",
        "node: blackhole for the service range", "node: drop pod traffic towards the uplink"}
    assert all(guard.check for guard in guards)
    forward = next(c for c in plan if c.name == "host: drop lgtmk8s-h -> eth0")
    assert forward.add == [["iptables", "-w", "-I", "FORWARD", "-i", "lgtmk8s-h", "-o", "eth0", "-j", "DROP"]]
    assert forward.undo == [["iptables", "-w", "-D", "FORWARD", "-i", "lgtmk8s-h", "-o", "eth0", "-j", "DROP"]]
    # Everything on the host side has an undo; inside the namespace, deleting it is the undo.
    for change in plan:
        host_side = any(argv[0] != "nsenter" for argv in change.add)
        if host_side and change.name != "addresses":
            assert change.undo, change.name
    routes = [c for c in plan if c.name.startswith("host: route")]
    assert {r.add[0][3] for r in routes} == {"10.96.0.0/16", "10.244.0.0/24"}
    assert all(r.add[0][4:6] == ["via", "10.250.0.2"] for r in routes)
    node_commands = [argv for change in plan for argv in change.add if argv[0] == "nsenter"]
    assert all(argv[1] == "--net=/run/netns/lgtm-k8s" for argv in node_commands)


def test_network_plan_guards_every_uplink():
    plan = k8s_lab.network_plan(["eth0", "wlan0"], ip6tables=False)
    assert {c.name for c in plan if c.guard and c.name.startswith("host")} == {
        "host: drop lgtmk8s-h -> eth0", "host: drop lgtmk8s-h -> wlan0"}


def test_uplinks_and_conflicts_from_ip_json():
    routes = [{"dst": "default", "gateway": "192.0.2.1", "dev": "eth0"},
              {"dst": "172.17.0.0/16", "dev": "docker0"}, {"dst": "10.96.5.0/24", "dev": "tun0"}]
    assert k8s_lab.uplinks_from([r for r in routes if r["dst"] == "default"]) == ["eth0"]
    assert k8s_lab.conflicts(routes) == ["10.96.5.0/24 dev tun0"]
    assert k8s_lab.conflicts(routes[:2]) == []


def test_lab_ranges_do_not_overlap():
    nets = [ipaddress.ip_network(c) for c in (k8s_lab.LINK_CIDR, k8s_lab.SERVICE_CIDR, k8s_lab.POD_CIDR)]
    assert not any(a.overlaps(b) for i, a in enumerate(nets) for b in nets[i + 1:])
    assert ipaddress.ip_address(k8s_lab.DNS_IP) in ipaddress.ip_network(k8s_lab.SERVICE_CIDR)


def test_image_archive_is_what_ctr_imports(tmp_path):
    binary = tmp_path / "pause"
    binary.write_bytes(b"\x7fELF...")
    archive = tmp_path / "pause.tar"
    k8s_lab.write_image_archive(archive, ["registry.k8s.io/pause:3.10"],
                                [k8s_lab.single_file_layer({"pause": binary})],
                                {"Entrypoint": ["/pause"]}, "recipe-1")
    with tarfile.open(archive) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))[0]
        config = json.load(tar.extractfile(manifest["Config"]))
        layer = tar.extractfile(manifest["Layers"][0]).read()
    assert manifest["RepoTags"] == ["registry.k8s.io/pause:3.10"]
    assert config["config"]["Entrypoint"] == ["/pause"]
    assert config["config"]["Labels"]["org.observability.lgtm.recipe"] == "recipe-1"
    assert config["rootfs"]["diff_ids"] == [f"sha256:{k8s_lab.layer_digest(layer)}"]
    with tarfile.open(fileobj=io.BytesIO(layer)) as inner:
        member = inner.getmember("pause")
        assert member.mode == 0o755 and member.uid == 0
    assert k8s_lab.archive_manifest(archive) == (["registry.k8s.io/pause:3.10"], manifest["Config"])


@pytest.mark.parametrize(("tag", "ref"), [
    ("registry.k8s.io/pause:3.10", "registry.k8s.io/pause:3.10"),
    ("docker.io/otel/opentelemetry-collector-contrib:0.159.0", "docker.io/otel/opentelemetry-collector-contrib:0.159.0"),
    ("prom/prometheus:v3.16.0", "docker.io/prom/prometheus:v3.16.0"),
    ("busybox:1", "docker.io/library/busybox:1"),
    ("localhost:5000/x:1", "localhost:5000/x:1"),
])
def test_normalized_ref(tag, ref):
    assert k8s_lab.normalized_ref(tag) == ref


def test_files_land_where_the_base_links_point():
    links = {"bin": "usr/bin", "lib": "usr/lib"}
    assert k8s_lab.in_base("/bin/prometheus", links) == "usr/bin/prometheus"
    assert k8s_lab.in_base("/cmd/jaeger/jaeger-linux", links) == "cmd/jaeger/jaeger-linux"
    assert k8s_lab.in_base("/otelcol-contrib", links) == "otelcol-contrib"


def test_image_names_render_from_the_role_defaults():
    """Whatever the roles' `<role>_image` default says is the name the lab gives
    the image: upstream's name and tag."""
    defaults = {role: yaml.safe_load((REPO / "roles" / role / "defaults" / "main.yml").read_text())
                for role in k8s_lab.IMAGE_SPECS}
    versions = {role: values.get(f"{role}_version") for role, values in defaults.items()}
    assert k8s_lab.image_ref("otel_collector") == \
        f"docker.io/otel/opentelemetry-collector-contrib:{versions['otel_collector']}"
    assert k8s_lab.image_ref("jaeger") == f"docker.io/jaegertracing/jaeger:{versions['jaeger']}"
    assert k8s_lab.image_ref("prometheus") == f"docker.io/prom/prometheus:v{versions['prometheus']}"
    assert k8s_lab.image_ref("victorialogs") == \
        f"docker.io/victoriametrics/victoria-logs:v{versions['victorialogs']}"
    assert k8s_lab.image_ref("demo_shop") == \
        f"docker.io/observability-lgtm/demo-shop:{defaults['demo_shop']['demo_shop_image_tag']}"


def test_image_specs_put_binaries_at_upstreams_paths():
    specs = k8s_lab.IMAGE_SPECS
    assert specs["otel_collector"].files["otelcol-contrib"] == "/otelcol-contrib"
    assert specs["jaeger"].files["jaeger"] == "/cmd/jaeger/jaeger-linux"
    assert specs["prometheus"].files["prometheus"] == "/bin/prometheus"
    assert specs["prometheus"].files["promtool"] == "/bin/promtool"
    assert specs["victorialogs"].files["victoria-logs-prod"] == "/victoria-logs-prod"
    assert specs["demo_shop"].config["Entrypoint"] == ["python3", "/app/shop.py"]


def test_down_finds_the_network_namespace_of_a_pod_sandbox():
    spec = {"linux": {"namespaces": [{"type": "pid"}, {"type": "ipc"},
                                     {"type": "network", "path": "/var/run/netns/cni-1234"}]}}
    assert k8s_lab.network_namespaces(spec) == ["/var/run/netns/cni-1234"]
    # A container joining its sandbox's namespace by /proc path is not a file to remove.
    joined = {"linux": {"namespaces": [{"type": "network", "path": "/proc/42/ns/net"}]}}
    assert k8s_lab.network_namespaces(joined) == []
    assert k8s_lab.network_namespaces({}) == []
