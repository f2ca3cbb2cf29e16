"""The Kubernetes objects built from a component's lifecycle description."""
from __future__ import annotations

import base64
import copy

import pytest

from ansible_collections.observability.lgtm.plugins.module_utils.k8s_manifests import (
    ManifestError,
    build_manifests,
)
from ansible_collections.observability.lgtm.plugins.filter.k8s_manifests import k8s_manifests
from ansible.errors import AnsibleFilterError

COMPONENT = {
    "name": "jaeger",
    "version": "2.12.0",
    "data_dirs": ["/var/lib/jaeger"],
    "config_files": [{"dest": "/etc/jaeger/config.yaml", "content": "a: 1\n"}],
    "unit": {"environment": {"GOMEMLIMIT": "100MiB"}},
    "readiness_url": "http://127.0.0.1:13133/status",
    "kubernetes": {
        "image": "docker.io/jaegertracing/jaeger:2.12.0",
        "command": ["/cmd/jaeger/jaeger-linux", "--config=/etc/jaeger/config.yaml"],
        "validate": ["/cmd/jaeger/jaeger-linux", "validate", "--config=/etc/jaeger/config.yaml"],
        "ports": [{"name": "otlp-grpc", "port": 4317}, {"name": "health", "port": "13133", "service": False}],
        "storage_size": "2Gi",
    },
}


def component(**changes):
    result = copy.deepcopy(COMPONENT)
    for key, value in changes.items():
        if key.startswith("k_"):
            result["kubernetes"][key[2:]] = value
        else:
            result[key] = value
    return result


def kinds(built):
    return [item["kind"] for item in built["objects"]]


def workload(built):
    return built["objects"][-1]


def test_a_stateful_component_gets_a_claim_a_service_and_a_deployment_that_replaces_its_pod():
    built = build_manifests(component(), "observability")
    assert kinds(built) == ["PersistentVolumeClaim", "Service", "Deployment"]
    assert built["config"][0]["kind"] == "ServiceAccount", "the validation Job runs as it"
    deployment = workload(built)
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    volumes = {volume["name"]: volume for volume in deployment["spec"]["template"]["spec"]["volumes"]}
    assert volumes["data-0"]["persistentVolumeClaim"]["claimName"] == "jaeger-data"
    service = built["objects"][1]
    assert [port["name"] for port in service["spec"]["ports"]] == ["otlp-grpc"], "the health port stays inside"


def test_a_statefulset_gets_a_claim_per_pod_a_headless_service_a_budget_and_spread_pods():
    built = build_manifests(component(k_kind="StatefulSet", k_replicas=3), "observability")
    assert kinds(built) == ["Service", "Service", "PodDisruptionBudget", "StatefulSet"]
    headless = built["objects"][1]
    assert headless["metadata"]["name"] == "jaeger-headless" and headless["spec"]["clusterIP"] == "None"
    assert [port["name"] for port in headless["spec"]["ports"]] == ["otlp-grpc"], "the Service's ports"
    spec = workload(built)["spec"]
    assert spec["replicas"] == 3 and spec["serviceName"] == "jaeger-headless"
    (template,) = spec["volumeClaimTemplates"]
    assert template["metadata"]["name"] == "data-0"
    assert template["spec"]["resources"]["requests"]["storage"] == "2Gi"
    assert template["metadata"]["labels"]["app.kubernetes.io/part-of"] == "observability-lgtm", "removed with purge"
    assert "data-0" not in [volume["name"] for volume in spec["template"]["spec"]["volumes"]]
    assert spec["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Retain", "whenScaled": "Retain"}
    assert built["objects"][2]["spec"]["maxUnavailable"] == 1
    assert spec["template"]["spec"]["topologySpreadConstraints"][0]["whenUnsatisfiable"] == "ScheduleAnyway"
    # The validation Job mounts an empty folder where each pod mounts its claim.
    job_volumes = {volume["name"]: volume for volume in built["validate_job"]["spec"]["template"]["spec"]["volumes"]}
    assert job_volumes["data-0"] == {"name": "data-0", "emptyDir": {}}
    assert built["superseded"] == [{"apiVersion": "apps/v1", "kind": "Deployment",
                                    "metadata": {"name": "jaeger", "namespace": "observability"}}]


def test_one_pod_needs_no_budget_and_no_spread_and_other_kinds_supersede_nothing():
    built = build_manifests(component(k_kind="StatefulSet", k_replicas=1), "observability")
    assert kinds(built) == ["Service", "Service", "StatefulSet"]
    assert "topologySpreadConstraints" not in workload(built)["spec"]["template"]["spec"]
    assert build_manifests(component(), "observability")["superseded"] == []


def test_a_deployment_of_several_pods_gets_a_budget_and_spread_too():
    built = build_manifests(component(k_replicas=2, k_storage_size=""), "observability")
    assert kinds(built) == ["Service", "PodDisruptionBudget", "Deployment"]
    assert workload(built)["spec"]["replicas"] == 2


def test_the_configuration_is_an_immutable_configmap_named_by_its_content_and_mounted_at_the_host_path():
    first = build_manifests(component(), "observability")
    changed = build_manifests(component(config_files=[{"dest": "/etc/jaeger/config.yaml", "content": "a: 2\n"}]),
                              "observability")
    configmap = first["config"][1]
    assert configmap["immutable"] is True and configmap["data"] == {"config.yaml": "a: 1\n"}
    assert first["config_names"] != changed["config_names"], "a new configuration is a new object"
    container = workload(first)["spec"]["template"]["spec"]["containers"][0]
    mount = next(m for m in container["volumeMounts"] if m["name"] == "config")
    assert mount == {"name": "config", "mountPath": "/etc/jaeger/config.yaml", "subPath": "config.yaml",
                     "readOnly": True}


def test_the_validation_job_runs_the_binary_on_the_new_configuration_and_no_service_selects_it():
    built = build_manifests(component(), "observability")
    job = built["validate_job"]
    assert job["metadata"]["name"] == built["job_name"] and built["job_name"].startswith("jaeger-validate-")
    pod = job["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never" and job["spec"]["backoffLimit"] == 0
    assert pod["containers"][0]["command"][1] == "validate"
    assert job["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/name"] == "jaeger-validate"
    assert all("persistentVolumeClaim" not in volume for volume in pod["volumes"]), "never touches the data"


def test_every_container_runs_unprivileged_with_a_read_only_root():
    built = build_manifests(component(), "observability")
    pod = workload(built)["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] == 10001
    security = pod["containers"][0]["securityContext"]
    assert security == {"allowPrivilegeEscalation": False, "privileged": False, "readOnlyRootFilesystem": True,
                        "capabilities": {"drop": ["ALL"]}}
    assert pod["automountServiceAccountToken"] is False
    assert built["validate_job"]["spec"]["template"]["spec"]["automountServiceAccountToken"] is False


def test_probes_come_from_the_readiness_url():
    container = workload(build_manifests(component(), "observability"))["spec"]["template"]["spec"]["containers"][0]
    assert container["readinessProbe"]["httpGet"] == {"path": "/status", "port": 13133, "scheme": "HTTP"}
    assert container["livenessProbe"]["httpGet"]["path"] == "/status"


def test_the_environment_is_the_units_plus_downward_api_values():
    built = build_manifests(component(k_env_objects=[{"name": "K8S_NODE_NAME",
                                                      "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}]),
                            "observability")
    env = workload(built)["spec"]["template"]["spec"]["containers"][0]["env"]
    assert env == [{"name": "GOMEMLIMIT", "value": "100MiB"},
                   {"name": "K8S_NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}]


def test_an_agent_daemonset_has_rbac_a_node_local_service_and_no_claim():
    rules = [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}]
    built = build_manifests(component(name="otelcol-agent", k_kind="DaemonSet", k_storage_size="",
                                      k_cluster_role_rules=rules, k_internal_traffic_policy="Local"), "obs")
    assert kinds(built) == ["ClusterRole", "ClusterRoleBinding", "Service", "DaemonSet"]
    assert built["objects"][2]["spec"]["internalTrafficPolicy"] == "Local"
    binding = built["objects"][1]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "otelcol-agent", "namespace": "obs"}]
    assert workload(built)["spec"]["template"]["spec"]["automountServiceAccountToken"] is True
    assert built["cluster_objects"][0]["name"] == "observability-lgtm-obs-otelcol-agent"
    # Its validation Job has the token too: a scrape job's credentials file must exist to validate.
    assert built["validate_job"]["spec"]["template"]["spec"]["automountServiceAccountToken"] is True


def agent_on_node(**changes):
    settings = {"name": "otelcol-agent", "data_dirs": ["/var/lib/otelcol"], "k_kind": "DaemonSet", "k_storage_size": "",
                "k_node_data_dir": "/var/lib/observability-lgtm",
                "k_node_files": [{"path": "/var/log/pods", "mount_path": "/var/log/pods"},
                                 {"path": "/", "mount_path": "/hostfs"}]}
    return component(**{**settings, **changes})


def test_an_agent_keeps_its_data_on_its_node_and_reads_the_nodes_folders_read_only():
    built = build_manifests(agent_on_node(), "obs")
    spec = workload(built)["spec"]["template"]["spec"]
    volumes = {volume["name"]: volume for volume in spec["volumes"]}
    mounts = {mount["name"]: mount for mount in spec["containers"][0]["volumeMounts"]}
    assert volumes["data-0"]["hostPath"] == {"path": "/var/lib/observability-lgtm/obs/otelcol-agent/data-0",
                                             "type": "DirectoryOrCreate"}
    assert mounts["data-0"]["mountPath"] == "/var/lib/otelcol"
    assert volumes["data-1"] == {"name": "data-1", "emptyDir": {}}, "/tmp stays in the pod"
    assert volumes["node-0"]["hostPath"] == {"path": "/var/log/pods", "type": "Directory"}
    assert mounts["node-0"] == {"name": "node-0", "mountPath": "/var/log/pods", "readOnly": True}
    assert mounts["node-1"] == {"name": "node-1", "mountPath": "/hostfs", "readOnly": True}
    # Root, so that the owner bits of root's files let it read and write them; no capability at all.
    assert spec["securityContext"]["runAsUser"] == 0 and spec["securityContext"]["runAsNonRoot"] is False
    container = spec["containers"][0]["securityContext"]
    assert container == {"allowPrivilegeEscalation": False, "privileged": False, "readOnlyRootFilesystem": True,
                         "capabilities": {"drop": ["ALL"]}}
    job_volumes = built["validate_job"]["spec"]["template"]["spec"]["volumes"]
    assert not [volume for volume in job_volumes if "hostPath" in volume], "the validation Job reads no node folder"


def test_an_agent_without_node_folders_stays_unprivileged_and_in_its_pod():
    built = build_manifests(component(name="otelcol-agent", k_kind="DaemonSet", k_storage_size=""), "obs")
    spec = workload(built)["spec"]["template"]["spec"]
    assert spec["securityContext"]["runAsUser"] == 10001 and spec["securityContext"]["runAsNonRoot"] is True
    assert all("hostPath" not in volume for volume in spec["volumes"])


def test_only_a_daemonset_keeps_data_on_its_node_and_only_a_pod_on_its_node_runs_as_root():
    with pytest.raises(ManifestError, match=r"^common_component.kubernetes.node_data_dir: only a DaemonSet"):
        build_manifests(component(k_node_data_dir="/var/lib/x"), "observability")
    with pytest.raises(ManifestError, match=r"^common_component.kubernetes.run_as_user: 0 is root; only a pod"):
        build_manifests(component(k_run_as_user=0), "observability")


def test_an_agent_tolerates_taints_and_gets_the_priority_class_it_creates_its_validation_job_neither():
    built = build_manifests(agent_on_node(k_tolerations=[{"operator": "Exists"}], k_priority_class="lgtm-agent",
                                          k_priority=1000000), "obs")
    priority_class = built["objects"][0]
    assert priority_class["kind"] == "PriorityClass" and priority_class["apiVersion"] == "scheduling.k8s.io/v1"
    assert priority_class["value"] == 1000000 and priority_class["globalDefault"] is False
    assert "namespace" not in priority_class["metadata"], "a PriorityClass is cluster-scoped"
    assert priority_class["metadata"]["labels"]["app.kubernetes.io/name"] == "otelcol-agent", "removal finds it so"
    spec = workload(built)["spec"]["template"]["spec"]
    assert spec["tolerations"] == [{"operator": "Exists"}] and spec["priorityClassName"] == "lgtm-agent"
    # The Job is created before the class (and may run anywhere): neither placement setting.
    job_spec = built["validate_job"]["spec"]["template"]["spec"]
    assert "tolerations" not in job_spec and "priorityClassName" not in job_spec


def test_an_existing_priority_class_is_named_not_created():
    built = build_manifests(agent_on_node(k_priority_class="system-node-critical"), "kube-system")
    assert "PriorityClass" not in kinds(built)
    assert workload(built)["spec"]["template"]["spec"]["priorityClassName"] == "system-node-critical"
    plain = build_manifests(component(), "observability")
    assert {"tolerations", "priorityClassName"}.isdisjoint(workload(plain)["spec"]["template"]["spec"])


def test_a_daemonset_surges_only_where_two_pods_on_a_node_cannot_clash():
    def rolling(**changes):
        return workload(build_manifests(agent_on_node(**changes), "obs"))["spec"]["updateStrategy"]["rollingUpdate"]
    # Its disk queue and offsets on the node: a second pod would open the same files.
    assert rolling() == {"maxUnavailable": 1, "maxSurge": 0}
    assert rolling(k_node_data_dir="") == {"maxUnavailable": 0, "maxSurge": 1}
    assert rolling(k_node_data_dir="", k_ports=[{"name": "otlp-grpc", "port": 4317, "host_port": 4317}]) == {
        "maxUnavailable": 1, "maxSurge": 0}


def test_secret_files_go_to_a_secret_never_to_the_configmap():
    built = build_manifests(component(config_files=[
        {"dest": "/etc/x/config.yaml", "content": "a: 1\n"},
        {"dest": "/etc/x/token", "content": "s3cr3t", "secret": True}]), "observability")
    assert [item["kind"] for item in built["config"]] == ["ServiceAccount", "ConfigMap", "Secret"]
    assert "s3cr3t" not in str(built["config"][1])
    assert base64.b64decode(built["config"][2]["data"]["token"]) == b"s3cr3t"
    assert built["secret"] is True


def test_removal_reads_only_the_name():
    built = build_manifests({"name": "jaeger", "config_files": "not even a list"}, "observability", removal=True)
    assert built["selector"] == "app.kubernetes.io/name=jaeger,app.kubernetes.io/part-of=observability-lgtm"
    assert {item["kind"] for item in built["cluster_objects"]} == {"ClusterRole", "ClusterRoleBinding"}


@pytest.mark.parametrize(("changes", "message"), [
    ({"k_image": None}, "common_component.kubernetes.image: required, missing"),
    ({"k_kind": "StatefulSet", "k_replicas": 0}, "common_component.kubernetes.replicas: 0 is below 1"),
    ({"k_kind": "ReplicaSet"},
     "common_component.kubernetes.kind: 'ReplicaSet' is not one of Deployment, DaemonSet, StatefulSet"),
    ({"k_ports": [{"name": "x", "port": 70000}]}, "common_component.kubernetes.ports[0].port: 70000 is not a port"),
    ({"k_ports": "4317"}, "common_component.kubernetes.ports: expected list, got str"),
    ({"k_run_as_user": 0}, "common_component.kubernetes.run_as_user: 0 is root"),
    ({"k_kind": "DaemonSet"}, "common_component.kubernetes.storage_size: a DaemonSet keeps no claim"),
    ({"name": "Bad_Name"}, "common_component.name: 'Bad_Name' is not a Kubernetes name"),
    ({"kubernetes": None}, "common_component.kubernetes: required, missing"),
    ({"config_files": [{"content": "x"}]}, "common_component.config_files[0].dest: required, missing"),
    ({"k_internal_traffic_policy": "Node"}, "common_component.kubernetes.internal_traffic_policy: 'Node'"),
    ({"k_node_files": [{"path": "var/log", "mount_path": "/var/log"}]},
     "common_component.kubernetes.node_files[0].path: 'var/log' is not an absolute path"),
    ({"k_node_files": ["/var/log"]}, "common_component.kubernetes.node_files[0]: expected dict, got str"),
    ({"k_kind": "DaemonSet", "k_storage_size": "", "k_node_data_dir": "data"},
     "common_component.kubernetes.node_data_dir: 'data' is not an absolute path"),
    ({"k_tolerations": "Exists"}, "common_component.kubernetes.tolerations: expected list, got str"),
    ({"k_tolerations": ["Exists"]}, "common_component.kubernetes.tolerations[0]: expected dict, got str"),
    ({"k_tolerations": [{"operator": "Exists", "efect": "NoSchedule"}]},
     "common_component.kubernetes.tolerations[0]: unknown key(s) efect"),
    ({"k_tolerations": [{"operator": "Matches"}]},
     "common_component.kubernetes.tolerations[0].operator: 'Matches' is not one of Equal, Exists"),
    ({"k_tolerations": [{"operator": "Exists", "value": "x"}]},
     "common_component.kubernetes.tolerations[0].value: an Exists toleration takes no value"),
    ({"k_priority": 1000}, "common_component.kubernetes.priority: 1000 needs a priority_class"),
    ({"k_priority_class": "Agent_Class"}, "common_component.kubernetes.priority_class: 'Agent_Class' is not"),
    ({"k_priority_class": "system-node-critical", "k_priority": 5},
     "common_component.kubernetes.priority_class: 'system-node-critical': names starting with system-"),
    ({"k_priority_class": "agents", "k_priority": 2000000000},
     "common_component.kubernetes.priority: 2000000000 is not between 1 and 1,000,000,000"),
    ({"k_priority_class": "agents", "k_priority": -1},
     "common_component.kubernetes.priority: -1 is not between 1 and 1,000,000,000"),
])
def test_bad_input_names_the_key(changes, message):
    with pytest.raises(ManifestError) as error:
        build_manifests(component(**changes), "observability")
    assert str(error.value).startswith(message)


def test_the_filter_reports_problems_without_a_traceback():
    with pytest.raises(AnsibleFilterError, match=r"^k8s_manifests: lgtm_kubernetes_namespace: 'Not OK'"):
        k8s_manifests(component(), "Not OK")
    with pytest.raises(AnsibleFilterError, match=r"^k8s_manifests: common_component: expected dict, got list"):
        k8s_manifests([], "observability")


def container_of(objects):
    return next(item for item in objects["objects"] if item["kind"] == "Deployment")["spec"]["template"]["spec"][
        "containers"][0]


def test_a_variable_takes_a_secret_files_content_from_the_secret_never_the_spec():
    files = [{"dest": "/etc/jaeger/config.yaml", "content": "a: 1\n"},
             {"dest": "/etc/jaeger/otlp-headers", "content": "Authorization=Bearer%20s3cret", "secret": True},
             {"dest": "/etc/jaeger/plain-value", "content": "hello"}]
    objects = build_manifests(component(config_files=files, k_env_from_files={
        "OTEL_EXPORTER_OTLP_HEADERS": "/etc/jaeger/otlp-headers", "PLAIN": "/etc/jaeger/plain-value"}), "observability")
    env = {item["name"]: item for item in container_of(objects)["env"]}
    secret_name = next(item["metadata"]["name"] for item in objects["config"] if item["kind"] == "Secret")
    config_name = next(item["metadata"]["name"] for item in objects["config"] if item["kind"] == "ConfigMap")
    assert env["OTEL_EXPORTER_OTLP_HEADERS"] == {"name": "OTEL_EXPORTER_OTLP_HEADERS", "valueFrom": {
        "secretKeyRef": {"name": secret_name, "key": "otlp-headers"}}}
    assert env["PLAIN"]["valueFrom"] == {"configMapKeyRef": {"name": config_name, "key": "plain-value"}}
    assert "s3cret" not in str(objects["objects"])


def test_env_from_files_names_a_file_that_is_not_there():
    with pytest.raises(ManifestError, match=r"common_component.kubernetes.env_from_files.X: '/etc/nope' is not the "
                                            r"dest of one of the config_files"):
        build_manifests(component(k_env_from_files={"X": "/etc/nope"}), "observability")


def test_a_readiness_url_that_needs_credentials_is_probed_on_its_port_only():
    container = container_of(build_manifests(component(readiness_url="https://127.0.0.1:9090/-/ready",
                                                       readiness_auth={"username": "u", "password": "pw-9f2"}),
                                             "observability"))
    assert container["readinessProbe"]["tcpSocket"] == {"port": 9090}
    assert "httpGet" not in container["readinessProbe"] and "pw-9f2" not in str(container)
    https = container_of(build_manifests(component(readiness_url="https://127.0.0.1:14133/status"), "observability"))
    assert https["readinessProbe"]["httpGet"] == {"path": "/status", "port": 14133, "scheme": "HTTPS"}


def test_a_network_policy_comes_with_the_objects_where_switched_on() -> None:
    assert not [item for item in build_manifests(COMPONENT, "obs")["objects"] if item["kind"] == "NetworkPolicy"]
    component = copy.deepcopy(COMPONENT)
    component["kubernetes"].update({"network_policy": True,
                                    "egress": {"to": [{"host": "victorialogs.obs.svc", "port": 9428}],
                                               "kubernetes_api": False}})
    objects = build_manifests(component, "obs")["objects"]
    policy = next(item for item in objects if item["kind"] == "NetworkPolicy")
    assert policy["metadata"]["name"] == "jaeger" and policy["metadata"]["namespace"] == "obs"
    assert policy["metadata"]["labels"]["app.kubernetes.io/part-of"] == "observability-lgtm", "removed by its labels"
    assert policy["spec"]["podSelector"] == {"matchLabels": {"app.kubernetes.io/name": "jaeger",
                                                             "app.kubernetes.io/part-of": "observability-lgtm"}}
    assert policy["spec"]["ingress"] == [{"ports": [{"port": 4317, "protocol": "TCP"}, {"port": 13133, "protocol": "TCP"}]}]
    assert policy["spec"]["egress"][1] == {"to": [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "victorialogs"}}}],
                                           "ports": [{"port": 9428, "protocol": "TCP"}]}
    assert [item["kind"] for item in objects].index("NetworkPolicy") < [item["kind"] for item in objects].index(
        "StatefulSet" if "StatefulSet" in [item["kind"] for item in objects] else "Deployment"), "in place before the pods"


def test_the_network_policy_switch_reads_as_a_boolean_and_off_builds_none() -> None:
    component = copy.deepcopy(COMPONENT)
    component["kubernetes"].update({"network_policy": "false", "egress": {"to": []}})
    assert not [item for item in build_manifests(component, "obs")["objects"] if item["kind"] == "NetworkPolicy"]
    component["kubernetes"]["network_policy"] = "true"
    assert [item for item in build_manifests(component, "obs")["objects"] if item["kind"] == "NetworkPolicy"]
    component["kubernetes"]["network_policy"] = "yes"
    with pytest.raises(ManifestError, match=r"common_component\.kubernetes\.network_policy: expected bool"):
        build_manifests(component, "obs")


def test_a_bad_egress_is_a_manifest_error_naming_the_key() -> None:
    component = copy.deepcopy(COMPONENT)
    component["kubernetes"].update({"network_policy": True, "egress": {"to": [{"host": "tempo", "port": "x"}]}})
    with pytest.raises(ManifestError, match=r"common_component\.kubernetes\.egress\.to\[0\]"):
        build_manifests(component, "obs")
