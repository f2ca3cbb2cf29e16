"""Every role's Kubernetes objects, rendered by Ansible itself from the role's
defaults and vars with lgtm_platform=kubernetes, through the k8s_manifests
filter: upstream's image names, the binary path in those images, ports from the
same variables as on a host, a claim for the data, unprivileged pods.

The Grafana-stack roles cannot run in the lab; this is their static proof on
Kubernetes (the kubernetes scenario also sends them to the lab cluster's API
server with a server-side dry run).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from kubernetes_objects import render_objects  # noqa: E402

ROLES = ["otel_collector", "jaeger", "prometheus", "victorialogs", "tempo", "mimir", "loki", "grafana", "demo_shop"]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> dict:
    return render_objects(tmp_path_factory.mktemp("k8s"), ROLES, "observability",
                          {"grafana_admin_password": "unit-test-password",
                           "grafana_secret_key": "unit-test-secret-key-0123456789"})


def container(objects: dict) -> dict:
    return objects["objects"][-1]["spec"]["template"]["spec"]["containers"][0]


IMAGES = {
    "otel_collector": ("docker.io/otel/opentelemetry-collector-contrib:0.159.0", "/otelcol-contrib"),
    "jaeger": ("docker.io/jaegertracing/jaeger:2.12.0", "/cmd/jaeger/jaeger-linux"),
    "prometheus": ("docker.io/prom/prometheus:v3.16.0", "/bin/prometheus"),
    "victorialogs": ("docker.io/victoriametrics/victoria-logs:v1.52.2", "/victoria-logs-prod"),
    "tempo": ("docker.io/grafana/tempo:3.1.0", "/tempo"),
    "mimir": ("docker.io/grafana/mimir:3.2.2", "/bin/mimir"),
    "loki": ("docker.io/grafana/loki:3.7.8", "/usr/bin/loki"),
    "grafana": ("docker.io/grafana/grafana:13.2.3", "/usr/share/grafana/bin/grafana"),
    "demo_shop": ("docker.io/observability-lgtm/demo-shop:1.0.0", "python3"),
}


@pytest.mark.parametrize("role", ROLES)
def test_upstream_image_and_binary(rendered, role):
    image, binary = IMAGES[role]
    assert container(rendered[role])["image"] == image
    assert container(rendered[role])["command"][0] == binary


@pytest.mark.parametrize("role", [role for role in ROLES if role not in ("demo_shop", "grafana")])
def test_backends_validate_their_configuration_and_keep_data_on_a_claim(rendered, role):
    objects = rendered[role]
    validator = "/bin/promtool" if role == "prometheus" else IMAGES[role][1]
    assert objects["validate_job"]["spec"]["template"]["spec"]["containers"][0]["command"][0] == validator
    workload = objects["objects"][-1]
    claims = [item for item in objects["objects"] if item["kind"] == "PersistentVolumeClaim"] + \
        workload["spec"].get("volumeClaimTemplates", [])
    assert claims, "data survives a new pod"


@pytest.mark.parametrize("role", ROLES)
def test_pods_are_unprivileged_and_probed(rendered, role):
    pod = rendered[role]["objects"][-1]["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["containers"][0]["securityContext"]["allowPrivilegeEscalation"] is False
    assert "readinessProbe" in pod["containers"][0]


def test_ports_come_from_the_same_variables_as_on_a_host(rendered):
    def ports(role):
        return {port["name"]: port["containerPort"] for port in container(rendered[role])["ports"]}
    assert ports("jaeger")["query-http"] == 16686 and ports("jaeger")["otlp-grpc"] == 4317
    assert ports("prometheus") == {"http": 9090}
    assert ports("victorialogs") == {"http": 9428}
    assert ports("tempo")["http"] == 3200 and ports("mimir")["http"] == 9009 and ports("loki")["http"] == 3100
    assert ports("otel_collector")["otlp-http"] == 4318


@pytest.mark.parametrize("metrics_address, declared", [
    (None, 8888),               # the configuration's default reader: 0.0.0.0:8888
    ("0.0.0.0:9464", 9464),
    ("127.0.0.1:8888", None),   # loopback only: nothing to declare, nothing to let in
])
def test_the_collector_declares_the_port_its_configuration_serves_its_metrics_on(tmp_path, metrics_address, declared):
    """Read off the final configuration, not the spec: with no metrics_address in the spec the collector
    still serves on the default, and an enforced NetworkPolicy refuses every port not declared."""
    spec = dict(GATEWAY_SPEC, **({"telemetry": {"metrics_address": metrics_address}} if metrics_address else {}))
    objects = render_objects(tmp_path, ["otel_collector"], "observability", {"otel_collector_spec": spec})
    ports = {port["name"]: port["containerPort"] for port in container(objects["otel_collector"])["ports"]}
    assert ports.get("metrics") == declared
    ingress = {port["port"] for rule in policy_of(objects, "otel_collector")["spec"]["ingress"] for port in rule["ports"]}
    assert (declared in ingress) if declared else (8888 not in ingress)


def test_victorialogs_flags_are_arguments_and_validated_by_its_parser(rendered):
    command = container(rendered["victorialogs"])["command"]
    assert "-storageDataPath=/var/lib/victorialogs/data" in command
    assert rendered["victorialogs"]["validate_job"]["spec"]["template"]["spec"]["containers"][0]["command"][-1] == "-version"


def test_the_gateway_queue_is_on_a_claim_of_each_pod(rendered):
    objects = rendered["otel_collector"]
    assert objects["workload"] == {"kind": "StatefulSet", "name": "otelcol-gateway"}
    assert "PersistentVolumeClaim" not in [item["kind"] for item in objects["objects"]], "one claim per pod"
    workload = objects["objects"][-1]["spec"]
    claim = workload["volumeClaimTemplates"][0]
    assert claim["spec"]["resources"]["requests"]["storage"] == "1Gi"
    mounts = {mount["name"]: mount["mountPath"] for mount in container(objects)["volumeMounts"]}
    assert mounts[claim["metadata"]["name"]] == "/var/lib/otelcol"
    assert claim["metadata"]["name"] not in [volume["name"] for volume in workload["template"]["spec"]["volumes"]]


def test_the_gateway_pods_are_two_spread_evicted_one_at_a_time_and_named_by_a_headless_service(rendered):
    objects = {(item["kind"], item["metadata"]["name"]): item for item in rendered["otel_collector"]["objects"]}
    workload = objects[("StatefulSet", "otelcol-gateway")]["spec"]
    assert workload["replicas"] == 2 and workload["serviceName"] == "otelcol-gateway-headless"
    headless = objects[("Service", "otelcol-gateway-headless")]["spec"]
    assert headless["clusterIP"] == "None" and headless["publishNotReadyAddresses"] is False
    assert "otlp-grpc" in [port["name"] for port in headless["ports"]]
    assert objects[("Service", "otelcol-gateway")]["spec"]["type"] == "ClusterIP"
    assert objects[("PodDisruptionBudget", "otelcol-gateway")]["spec"]["maxUnavailable"] == 1
    spread = workload["template"]["spec"]["topologySpreadConstraints"][0]
    assert spread["topologyKey"] == "kubernetes.io/hostname" and spread["whenUnsatisfiable"] == "ScheduleAnyway"
    assert rendered["otel_collector"]["superseded"] == [
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "otelcol-gateway", "namespace": "observability"}}]


def test_the_demo_front_reaches_the_back_at_its_service(rendered):
    env = {item["name"]: item.get("value") for item in container(rendered["demo_shop"])["env"]}
    assert env["SHOP_BACK_URL"] == "http://shop-back:8081" and env["SHOP_LISTEN"] == "0.0.0.0:8080"
    assert "PYTHONPATH" not in env


def test_grafana_secrets_are_in_a_secret_and_its_database_on_a_claim(rendered):
    objects = rendered["grafana"]
    kinds = {item["kind"]: item for item in objects["config"]}
    assert kinds["ServiceAccount"]["automountServiceAccountToken"] is False
    assert "unit-test-secret-key" not in json.dumps(kinds["ConfigMap"])
    assert "unit-test-password" not in json.dumps(kinds["ConfigMap"])
    assert sorted(kinds["Secret"]["data"]) == ["grafana.ini", "lgtm.yml", "secret_key"]
    assert "PersistentVolumeClaim" in [item["kind"] for item in objects["objects"]]
    mounts = {m["mountPath"] for m in container(objects)["volumeMounts"]}
    assert {"/var/lib/grafana/secret_key", "/etc/grafana/grafana.ini", "/etc/grafana/provisioning/plugins"} <= mounts


def policy_of(rendered: dict, role: str) -> dict:
    return next(item for item in rendered[role]["objects"] if item["kind"] == "NetworkPolicy")


@pytest.mark.parametrize("role", ROLES)
def test_each_components_pods_take_connections_on_their_declared_ports_only(rendered, role):
    policy = policy_of(rendered, role)
    declared = sorted({port["containerPort"] for port in container(rendered[role])["ports"]})
    assert policy["spec"]["podSelector"]["matchLabels"] == rendered[role]["objects"][-1]["spec"]["selector"]["matchLabels"]
    assert sorted(port["port"] for rule in policy["spec"]["ingress"] for port in rule["ports"]) == declared


GATEWAY_SPEC = {
    "backends": {"jaeger": {"type": "otlp", "endpoint": "jaeger.observability.svc:4317"},
                 "victorialogs": {"type": "victorialogs", "host": "victorialogs", "port": 9428},
                 "saas": {"type": "otlp", "endpoint": "otlp.example.com:443"}},
    "pipelines": {"traces": {"exporters": ["jaeger"]}, "logs": {"exporters": ["victorialogs", "saas"]}},
}


def test_the_gateway_reaches_the_backends_its_configuration_names_and_nothing_else(tmp_path):
    objects = render_objects(tmp_path, ["otel_collector"], "observability", {"otel_collector_spec": GATEWAY_SPEC})
    policy = policy_of(objects, "otel_collector")
    assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert policy["spec"]["egress"] == [
        {"ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]},
        {"to": [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "jaeger"}}}],
         "ports": [{"port": 4317, "protocol": "TCP"}]},
        {"ports": [{"port": 443, "protocol": "TCP"}]},
        {"to": [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "victorialogs"}}}],
         "ports": [{"port": 9428, "protocol": "TCP"}]},
    ], "the backends of the namespace at their pods, one outside on its port only; no API server for a gateway"


def test_switched_off_no_policy_is_built(tmp_path):
    objects = render_objects(tmp_path, ["jaeger"], "observability", {"lgtm_kubernetes_network_policy": False})
    assert not [item for item in objects["jaeger"]["objects"] if item["kind"] == "NetworkPolicy"]


@pytest.mark.parametrize("role", [role for role in ROLES if role != "otel_collector"])
def test_the_other_components_keep_their_egress_open(rendered, role):
    assert policy_of(rendered, role)["spec"]["policyTypes"] == ["Ingress"]
