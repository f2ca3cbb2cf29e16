"""The stack on the lab's three-node Kubernetes (a tainted control-plane node, two workers), proven end to end.

site.yml deployed the collector as a node agent (DaemonSet) and a gateway
(a StatefulSet of two pods, each with its persistent queue on its own claim, to
which the agents send each trace whole by trace ID), Jaeger, Prometheus,
VictoriaLogs and the demo shop. From the controller (the host routes to the
cluster's Service and pod ranges through the node's namespace) orders go to the
shop's Service and are read back from each backend's own API; every span must
carry the pod metadata only the node agent adds, and every trace one gateway
pod's name. One gateway pod is deleted, then every one is killed, while orders
are sent: every order's trace must still arrive (sent = stored), whole. The
Grafana-stack objects, which cannot run here, go to the API server as a
server-side dry run, which checks every field against the real API.
"""
from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from lgtm_stack import (EPHEMERAL, TRACE_POLL_S, Http, assert_context_crossed_the_hop, complete_trace, converge_timings,
                        instant_query, latency_figures, log_lines, wait_for)

REPO = Path(os.environ.get("MOLECULE_PROJECT_DIRECTORY", Path(__file__).resolve().parents[3]))
sys.path.insert(0, str(REPO / "tests" / "unit" / "roles"))
from kubernetes_objects import render_objects  # noqa: E402
CACHE = Path(os.environ.get("LGTM_CACHE", Path.home() / ".cache" / "observability-lgtm"))
NAMESPACE = "observability"
ORDERS = 20
KILL_RUN_ORDERS = 30


def k8s_lab(*args: str, check: bool = True, stdin: str | None = None, timeout: float = 180) -> str:
    """A command of the lab cluster's command line (lab/k8s_lab.py); with check, a failure fails the test."""
    result = subprocess.run([sys.executable, str(REPO / "lab" / "k8s_lab.py"), *args],
                            input=stdin, capture_output=True, text=True, timeout=timeout, check=False)
    if check and result.returncode != 0:
        raise AssertionError(f"k8s_lab.py {' '.join(args)} failed: {result.stdout[-2000:]}{result.stderr[-2000:]}")
    return result.stdout


def kubectl(*args: str, check: bool = True, stdin: str | None = None) -> str:
    return k8s_lab("kubectl", *args, check=check, stdin=stdin)


def get(kind: str, name: str = "", selector: str = "") -> Any:
    args = ["get", kind, "-n", NAMESPACE, "-o", "json"] + ([name] if name else []) + (["-l", selector] if selector else [])
    return json.loads(kubectl(*args))


@functools.lru_cache(maxsize=None)
def service_url(service: str, port_name: str) -> str:
    spec = get("service", service)["spec"]
    port = next(p["port"] for p in spec["ports"] if p["name"] == port_name)
    return f"http://{spec['clusterIP']}:{port}"


class ClusterHttp(Http):
    """A component's HTTP API at its Service, called from the controller."""

    def call(self, url: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        self.calls.append(url if body is None else f"POST {url} {json.dumps(body)}")
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"} if data else {})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                status, text = response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            status, text = error.code, error.read().decode()
        except (urllib.error.URLError, OSError) as error:
            return 0, str(error)
        try:
            return status, json.loads(text)
        except ValueError:
            return status, text

    def explain(self, what: str, response: Any) -> str:
        logs = kubectl("logs", "-n", NAMESPACE, f"deployment/{self.component}", "--tail=30", check=False)
        return (f"{what}\n  queried: {self.calls[-1] if self.calls else '(nothing)'}\n"
                f"  answer: {json.dumps(response)[:2000]}\n  last log lines of {self.component}:\n{logs}")


@pytest.fixture(scope="module")
def jaeger() -> ClusterHttp:
    return ClusterHttp("jaeger", service_url("jaeger", "query-http"))


def place_order(order_id: str) -> str:
    request = urllib.request.Request(f"{service_url('shop-front', 'http')}/orders",
                                     data=json.dumps({"order_id": order_id}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        answer = json.loads(response.read())
    assert answer["order_id"] == order_id, answer
    return answer["trace_id"]


def resources_of(api: Http, trace_id: str) -> list[dict[str, Any]]:
    """The resource attributes of every span batch of a trace, by key."""
    status, answer = api.get(f"/api/v3/traces/{trace_id}")
    assert status == 200, answer
    return [{a["key"]: next(iter(a["value"].values())) for a in rs["resource"]["attributes"]}
            for rs in answer["result"]["resourceSpans"]]


@pytest.fixture(scope="module")
def orders(jaeger: ClusterHttp) -> list[dict[str, Any]]:
    result = []
    for number in range(ORDERS):
        order_id = f"k8s-{int(time.time())}-{number}"
        sent = time.monotonic()
        trace_id = place_order(order_id)
        spans = wait_for(lambda: complete_trace(jaeger, trace_id), interval=TRACE_POLL_S)
        result.append({"order_id": order_id, "trace_id": trace_id, "spans": spans,
                       "visible_after_s": round(time.monotonic() - sent, 3) if spans else None})
    return result


def test_the_network_guards_are_in_place_while_the_cluster_runs():
    k8s_lab("guards", timeout=60)


GATEWAY_SELECTOR = "app.kubernetes.io/name=otelcol-gateway"
GATEWAY_REPLICAS = 2


def test_agent_runs_on_every_node_and_each_gateway_pod_keeps_its_queue_on_its_own_claim():
    agent = get("daemonset", "otelcol-agent")["status"]
    assert agent["numberReady"] == len(nodes()) == agent["desiredNumberScheduled"] == 3, agent
    gateway = get("statefulset", "otelcol-gateway")
    assert gateway["status"].get("readyReplicas") == GATEWAY_REPLICAS, gateway["status"]
    template = gateway["spec"]["volumeClaimTemplates"][0]["metadata"]["name"]
    for ordinal in range(GATEWAY_REPLICAS):
        claim = get("pvc", f"{template}-otelcol-gateway-{ordinal}")
        assert claim["status"]["phase"] == "Bound", claim["status"]
    # The agents' load balancing resolves the headless Service to one address per ready pod.
    slices = get("endpointslices", selector="kubernetes.io/service-name=otelcol-gateway-headless")["items"]
    addresses = {address for item in slices for endpoint in item.get("endpoints") or []
                 if endpoint.get("conditions", {}).get("ready") for address in endpoint["addresses"]}
    pods = {pod["status"]["podIP"] for pod in get("pods", selector=GATEWAY_SELECTOR)["items"]}
    assert addresses == pods and len(pods) == GATEWAY_REPLICAS, (addresses, pods)
    budget = get("poddisruptionbudget", "otelcol-gateway")
    assert budget["status"]["disruptionsAllowed"] == 1, budget["status"]


AGENT_SELECTOR = "app.kubernetes.io/name=otelcol-agent"
CONTROL_PLANE_TAINT = {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}


def agent_pods() -> list[dict[str, Any]]:
    return get("pods", selector=AGENT_SELECTOR)["items"]


def ready(pod: dict[str, Any]) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in pod.get("status", {}).get("conditions", []))


def nodes() -> list[dict[str, Any]]:
    return json.loads(kubectl("get", "nodes", "-o", "json"))["items"]


def node_names() -> list[str]:
    return sorted(node["metadata"]["name"] for node in nodes())


def control_plane() -> str:
    """The name of the lab's control-plane node, found by its taint."""
    (name,) = [node["metadata"]["name"] for node in nodes()
               if CONTROL_PLANE_TAINT in [{k: t[k] for k in ("key", "effect")} for t in node["spec"].get("taints", [])]]
    return name


def test_the_agent_lands_on_a_tainted_node_with_its_priority_class_where_other_pods_may_not():
    """The agent's DaemonSet tolerates every taint (the control plane's too) and its pods carry the PriorityClass
    the role created. On the control-plane node (tainted NoSchedule by the cluster), a pod without a toleration
    (the control) is not scheduled, while the agent pod that replaces a deleted one is, and runs with the
    class's priority."""
    priority_class = json.loads(kubectl("get", "priorityclass", "observability-lgtm-node-agent", "-o", "json"))
    assert priority_class["value"] == 1_000_000, priority_class
    assert priority_class["metadata"]["labels"]["app.kubernetes.io/name"] == "otelcol-agent", priority_class
    spec = get("daemonset", "otelcol-agent")["spec"]
    # Its queue and offsets are on the node: the old pod goes before the new one opens them.
    assert spec["updateStrategy"]["rollingUpdate"] == {"maxUnavailable": 1, "maxSurge": 0}, spec["updateStrategy"]
    node = control_plane()
    (old,) = [pod for pod in agent_pods() if pod["spec"]["nodeName"] == node]
    control = {"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": "untolerated-probe", "namespace": NAMESPACE},
               "spec": {"nodeSelector": {"kubernetes.io/hostname": node}, "automountServiceAccountToken": False,
                        "containers": [{"name": "probe", "image": old["spec"]["containers"][0]["image"],
                                        "command": ["/otelcol-contrib", "--version"]}]}}
    try:
        kubectl("apply", "-f", "-", stdin=json.dumps(control))
        kubectl("delete", "pod", "-n", NAMESPACE, old["metadata"]["name"], "--wait=true")

        def replacement() -> dict[str, Any] | None:
            pods = [pod for pod in agent_pods() if pod["spec"]["nodeName"] == node
                    and pod["metadata"]["uid"] != old["metadata"]["uid"] and ready(pod)]
            return pods[0] if pods else None
        new = wait_for(replacement, seconds=120, interval=1)

        def refused() -> list[dict[str, Any]]:
            conditions = get("pod", "untolerated-probe")["status"].get("conditions", [])
            return [c for c in conditions if c["type"] == "PodScheduled" and c["status"] == "False"]
        unscheduled = wait_for(refused, seconds=30, interval=1)
        probe = get("pod", "untolerated-probe")
    finally:
        kubectl("delete", "pod", "-n", NAMESPACE, "untolerated-probe", "--ignore-not-found", "--wait=false")
    assert new, f"no ready agent pod replaced {old['metadata']['name']} on the tainted node: {agent_pods()}"
    assert new["spec"]["priorityClassName"] == "observability-lgtm-node-agent"
    assert new["spec"]["priority"] == 1_000_000, "the admission gave the pod its class's value"
    assert unscheduled and probe["status"]["phase"] == "Pending", probe["status"]
    assert "untolerated taint" in unscheduled[0].get("message", ""), unscheduled


def test_every_order_trace_is_complete_in_jaeger(jaeger, orders):
    missing = [o["trace_id"] for o in orders if o["spans"] is None]
    assert not missing, jaeger.explain(f"traces {missing} not complete within 60 s", None)


def test_trace_context_crossed_the_hop_between_the_two_deployments(orders):
    assert_context_crossed_the_hop(orders[0]["spans"])


def test_spans_carry_the_pod_metadata_the_node_agent_added(jaeger, orders):
    pods = {p["metadata"]["name"]: p for p in get("pods", selector="app.kubernetes.io/part-of=observability-lgtm")["items"]}
    for attributes in resources_of(jaeger, orders[0]["trace_id"]):
        service = attributes["service.name"]
        assert attributes.get("k8s.namespace.name") == NAMESPACE, attributes
        pod = pods.get(attributes.get("k8s.pod.name"))
        assert pod and pod["metadata"]["labels"]["app.kubernetes.io/name"] == service, (attributes, sorted(pods))
        assert attributes.get("k8s.node.name") == pod["spec"]["nodeName"], attributes
        assert attributes.get("k8s.deployment.name") == service, attributes


def test_the_node_agent_received_the_spans():
    pods = get("pods", selector="app.kubernetes.io/name=otelcol-agent")["items"]
    accepted = 0.0
    for pod in pods:
        with urllib.request.urlopen(f"http://{pod['status']['podIP']}:8888/metrics", timeout=10) as response:
            for line in response.read().decode().splitlines():
                if line.startswith("otelcol_receiver_accepted_spans") and 'receiver="otlp"' in line:
                    accepted += float(line.rsplit(" ", 1)[1])
    assert accepted >= ORDERS, f"agents accepted {accepted} spans for {ORDERS} orders"


def test_the_order_log_line_with_its_trace_id_is_in_victorialogs(orders):
    logs = ClusterHttp("victorialogs", service_url("victorialogs", "http"))
    order = orders[0]
    lines = wait_for(lambda: log_lines(logs, "shop-front", order["trace_id"]), seconds=30)
    assert any(f"order {order['order_id']} accepted" in line for line in lines or []), \
        logs.explain(f"log line of order {order['order_id']}", lines)


# A pod that writes numbered lines to its stdout, one every WRITE_EVERY_S, while the node agent
# is restarted in the middle (agent pod deleted at RESTART_AT_LINE).
STDOUT_LINES = 300
WRITE_EVERY_S = 0.05
RESTART_AT_LINE = 80
WRITER_SCRIPT = """
import sys, time
run = sys.argv[1]
for number in range({lines}):
    print(f"lgtm-stdout {{run}} line {{number:04d}}", flush=True)
    time.sleep({every})
time.sleep(3600)
"""


def stdout_records(logs: ClusterHttp, run: str) -> list[dict[str, Any]]:
    """Every record VictoriaLogs holds of the writer's run, with all its fields."""
    status, answer = logs.get("/select/logsql/query", query=f'"lgtm-stdout {run}"')
    text = answer if isinstance(answer, str) else json.dumps(answer)
    return [json.loads(line) for line in text.splitlines() if line.strip()] if status == 200 else []


def test_every_line_a_pod_writes_to_stdout_arrives_once_with_its_pod_across_an_agent_restart():
    """The node agent reads the kubelet's pod log files (read-only, from the node) and keeps its read
    offsets and its disk queue on the node: a new agent pod carries on where the last one stopped."""
    agent = get("daemonset", "otelcol-agent")["spec"]["template"]["spec"]
    host_paths = {v["name"]: v["hostPath"] for v in agent["volumes"] if "hostPath" in v}
    assert any(p["type"] == "DirectoryOrCreate" for p in host_paths.values()), agent["volumes"]
    mounts = {m["name"]: m for m in agent["containers"][0]["volumeMounts"]}
    read_only = [mounts[name] for name, path in host_paths.items() if path["type"] == "Directory"]
    assert read_only and all(m["readOnly"] for m in read_only), agent["containers"][0]["volumeMounts"]
    assert agent["containers"][0]["securityContext"]["capabilities"] == {"drop": ["ALL"]}, agent["containers"][0]

    run = f"r{int(time.time())}"
    name = f"stdout-writer-{run}"
    image = next(c["image"] for c in get("deployment", "shop-front")["spec"]["template"]["spec"]["containers"])
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": NAMESPACE},
           "spec": {"restartPolicy": "Never", "terminationGracePeriodSeconds": 1, "containers": [{
               "name": "writer", "image": image, "imagePullPolicy": "Never",
               "command": ["python3", "-c", WRITER_SCRIPT.format(lines=STDOUT_LINES, every=WRITE_EVERY_S), run]}]}}
    before = get("pods", selector="app.kubernetes.io/name=otelcol-agent")["items"]
    kubectl("apply", "-f", "-", stdin=json.dumps(pod))
    try:
        kubectl("wait", "-n", NAMESPACE, "--for=condition=Ready", f"pod/{name}", "--timeout=60s")
        time.sleep(RESTART_AT_LINE * WRITE_EVERY_S)
        kubectl("delete", "pod", "-n", NAMESPACE, *[p["metadata"]["name"] for p in before])
        kubectl("rollout", "status", "-n", NAMESPACE, "daemonset/otelcol-agent", "--timeout=120s")
        after = get("pods", selector="app.kubernetes.io/name=otelcol-agent")["items"]
        assert {p["metadata"]["uid"] for p in after}.isdisjoint({p["metadata"]["uid"] for p in before})

        logs = ClusterHttp("victorialogs", service_url("victorialogs", "http"))
        wait_for(lambda: len(stdout_records(logs, run)) >= STDOUT_LINES or None, seconds=120)
        time.sleep(10)  # anything sent twice would arrive by now
        records = stdout_records(logs, run)
        numbers = [record["_msg"].rsplit(" ", 1)[1] for record in records]
        missing = sorted({f"{n:04d}" for n in range(STDOUT_LINES)} - set(numbers))
        repeated = sorted({n for n in numbers if numbers.count(n) > 1})
        print(f"\nFIGURES-STDOUT written={STDOUT_LINES} stored={len(records)} missing={len(missing)} "
              f"repeated={len(repeated)} agent_restarted_at_line={RESTART_AT_LINE}")
        assert not missing and not repeated, logs.explain(
            f"{len(missing)} lines missing ({missing[:10]}), {len(repeated)} repeated ({repeated[:10]})", records[:3])
        for record in records:
            assert (record.get("k8s.namespace.name"), record.get("k8s.pod.name"), record.get("k8s.container.name")) \
                == (NAMESPACE, name, "writer"), record
    finally:
        kubectl("delete", "pod", "-n", NAMESPACE, name, "--wait=false", check=False)


def test_every_node_reports_its_own_metrics_under_its_name():
    """Each node's agent reads the node's metrics from the node's root (read-only at /hostfs) and tags every
    point with its node's name, which Prometheus promotes to the label k8s_node_name."""
    names = node_names()
    metrics = ClusterHttp("prometheus", service_url("prometheus", "http"))
    query = 'count by (k8s_node_name) ({__name__=~"system_memory_usage.*"})'

    def reporting() -> list[str] | None:
        found = sorted(entry["metric"].get("k8s_node_name", "") for entry in instant_query(metrics, query) or [])
        return found if found == names else None

    assert wait_for(reporting, seconds=90), metrics.explain(f"memory usage of every node {names} by k8s_node_name",
                                                            instant_query(metrics, query))


def test_every_node_reports_its_kubelets_metrics_under_its_name():
    """Each node's agent scrapes its own kubelet (the resource and cAdvisor endpoints) at the node's address with
    its service account's token, checking the kubelet's certificate against the cluster's CA: both jobs answer
    on every node (up is 1), with each node's own memory (resource) and the agent pod's own containers (cAdvisor)."""
    names = node_names()
    metrics = ClusterHttp("prometheus", service_url("prometheus", "http"))
    queries = {
        "up": 'up{job=~"kubelet-resource|kubelet-cadvisor"} == 1',
        "node memory": 'node_memory_working_set_bytes{job="kubelet-resource"} > 0',
        "agent containers": f'container_memory_working_set_bytes{{job="kubelet-cadvisor", namespace="{NAMESPACE}", '
                            f'pod=~"otelcol-agent-.*", container="otelcol-agent"}} > 0',
    }
    expected = {"up": sorted((job, node) for node in names for job in ("kubelet-cadvisor", "kubelet-resource")),
                "node memory": [("kubelet-resource", node) for node in names],
                "agent containers": [("kubelet-cadvisor", node) for node in names]}

    def reporting() -> dict[str, list] | None:
        # Each (job, node) once: an agent pod replaced minutes ago (the stdout test's) still has series
        # within Prometheus' lookback.
        found = {name: sorted({(entry["metric"].get("job", ""), entry["metric"].get("k8s_node_name", ""))
                               for entry in instant_query(metrics, query) or []})
                 for name, query in queries.items()}
        return found if found == expected else None

    found = wait_for(reporting, seconds=120)
    series = {entry["metric"].get("job"): entry["value"][1]
              for entry in instant_query(metrics, 'count by (job) ({job=~"kubelet-resource|kubelet-cadvisor"})') or []}
    print(f"\nFIGURES-KUBELET series_by_job={json.dumps(series, sort_keys=True)} nodes={len(names)}")
    assert found, metrics.explain(
        f"the kubelet's metrics of every node {names}, by job and k8s_node_name",
        {name: instant_query(metrics, query) for name, query in queries.items()}) + "\n  the agent's log:\n" + \
        kubectl("logs", "-n", NAMESPACE, "daemonset/otelcol-agent", "--tail=20", check=False)


def test_the_request_counter_is_in_prometheus_with_bounded_labels(orders):
    metrics = ClusterHttp("prometheus", service_url("prometheus", "http"))
    query = 'http_requests_total{job="shop-front", http_route="/orders"}'
    result = wait_for(lambda: instant_query(metrics, query), seconds=60)
    assert result and sum(float(s["value"][1]) for s in result) >= 1, metrics.explain(query, result)


def orders_during(fault: Any, label: str) -> tuple[list[str], list[str], float]:
    """Send orders 0.2 s apart, at least KILL_RUN_ORDERS and until `fault` (done 1.5 s in) is over
    and every gateway pod is ready again; the trace ids the shop answered, its refusals, and the
    seconds from the fault until every gateway pod was ready again."""
    sent: list[str] = []
    errors: list[str] = []
    over = threading.Event()

    def send() -> None:
        number = 0
        while number < KILL_RUN_ORDERS or not over.is_set():
            try:
                sent.append(place_order(f"{label}-{int(time.time())}-{number}"))
            except Exception as error:  # an order the shop refused is not "sent"
                errors.append(str(error))
            number += 1
            time.sleep(0.2)

    sender = threading.Thread(target=send)
    sender.start()
    try:
        time.sleep(1.5)
        started = time.monotonic()
        fault()
        kubectl("rollout", "status", "-n", NAMESPACE, "statefulset/otelcol-gateway", "--timeout=180s")
        recovered = time.monotonic() - started
    finally:
        over.set()
        sender.join()
    return sent, errors, recovered


def stored_traces(jaeger: ClusterHttp, sent: list[str]) -> dict[str, list[dict[str, Any]]]:
    """The complete trace of each sent order that arrived (missing ones are left out)."""
    found = {trace_id: wait_for(lambda t=trace_id: complete_trace(jaeger, t), seconds=120) for trace_id in sent}
    return {trace_id: spans for trace_id, spans in found.items() if spans}


def gateways_and_duplicates(traces: dict[str, list[dict[str, Any]]]) -> tuple[list[str], int]:
    """The traces whose spans more than one gateway pod handled, and the spans stored twice."""
    split = [trace_id for trace_id, spans in traces.items()
             if len({span["resource"].get("collector.gateway") for span in spans}) != 1]
    duplicates = sum(len(spans) - len({span["spanId"] for span in spans}) for spans in traces.values())
    return split, duplicates


def counted_fault(jaeger: ClusterHttp, figure: str, sent: list[str], errors: list[str], recovered: float,
                  extra: str = "") -> tuple[int, list[str]]:
    """After a fault under orders: print its figures (sent, stored, lost, split, copies) and return
    the traces lost and those split over gateway pods."""
    traces = stored_traces(jaeger, sent)
    split, duplicates = gateways_and_duplicates(traces)
    lost = len(sent) - len(traces)
    print(f"\nFIGURES-{figure} sent={len(sent)} stored={len(traces)} lost={lost} split={len(split)} "
          f"duplicate_spans={duplicates} refused_by_shop={len(errors)} recovered_s={recovered:.1f}{extra}")
    assert len(sent) >= KILL_RUN_ORDERS // 2, errors
    return lost, split


def test_every_trace_is_handled_whole_by_one_gateway_pod_and_both_take_traces(jaeger, orders):
    traces = {order["trace_id"]: order["spans"] for order in orders if order["spans"]}
    split, duplicates = gateways_and_duplicates(traces)
    assert not split, f"traces split over gateway pods: {split}"
    used = {spans[0]["resource"].get("collector.gateway") for spans in traces.values()}
    assert used == {f"otelcol-gateway-{ordinal}" for ordinal in range(GATEWAY_REPLICAS)}, used
    assert duplicates == 0


def test_deleting_one_gateway_pod_during_orders_loses_none_and_keeps_each_trace_whole(jaeger, orders):
    assert orders, "the stack must work before a gateway pod goes"
    victim = "otelcol-gateway-1"
    before = get("pod", victim)["metadata"]["uid"]
    sent, errors, recovered = orders_during(
        lambda: kubectl("delete", "pod", "-n", NAMESPACE, victim, "--wait=false"), "replica")
    assert get("pod", victim)["metadata"]["uid"] != before
    lost, split = counted_fault(jaeger, "REPLICA", sent, errors, recovered)
    assert lost == 0, f"{lost} of {len(sent)} traces lost after {victim} was deleted"
    assert not split, f"traces split over gateway pods while {victim} was replaced: {split}"


def test_killing_every_gateway_pod_during_orders_loses_none(jaeger, orders):
    assert orders, "the stack must work before the gateway is killed"
    before = get("pods", selector=GATEWAY_SELECTOR)["items"]
    sent, errors, recovered = orders_during(lambda: kubectl(
        "delete", "pod", "-n", NAMESPACE, "--grace-period=0", "--force", *[p["metadata"]["name"] for p in before]),
        "kill")
    after = get("pods", selector=GATEWAY_SELECTOR)["items"]
    assert {p["metadata"]["uid"] for p in after}.isdisjoint({p["metadata"]["uid"] for p in before})
    lost, _split = counted_fault(jaeger, "KILL", sent, errors, recovered)
    assert lost == 0, f"{lost} of {len(sent)} traces lost after the gateway pods were killed"


def test_grafana_stack_objects_pass_the_api_servers_dry_run(tmp_path):
    """Tempo, Mimir, Loki and Grafana as the roles would create them, checked by the real API server."""
    # What a user gives from a vault; never a default.
    rendered = render_objects(tmp_path, ["tempo", "mimir", "loki", "grafana"], NAMESPACE,
                              {"grafana_admin_password": "dry-run-password",
                               "grafana_secret_key": "dry-run-secret-key-0123456789"})
    for role, objects in rendered.items():
        items = [objects["namespace"], *objects["config"], objects["validate_job"], *objects["objects"]]
        items = [item for item in items if item]
        document = json.dumps({"apiVersion": "v1", "kind": "List", "items": items})
        output = kubectl("apply", "--dry-run=server", "-f", "-", stdin=document)
        assert output.count("(server dry run)") == len(items), f"{role}: {output}"


def test_figures(orders):
    visible = sorted(o["visible_after_s"] for o in orders if o["visible_after_s"] is not None)
    timings = converge_timings()
    up = EPHEMERAL / "cluster-up-seconds"
    figures = {
        "target": "kubernetes",
        "orders": len(orders),
        "cluster_up_s": float(up.read_text()) if up.exists() else None,
        "converge_s": timings[-2] if len(timings) >= 2 else (timings[-1] if timings else None),
        "idempotent_rerun_s": timings[-1] if len(timings) >= 2 else None,
        "request_to_complete_trace_s": latency_figures(orders),
    }
    (EPHEMERAL / "figures.json").write_text(json.dumps(figures, indent=2) + "\n")
    print("\nFIGURES " + json.dumps(figures))
    assert visible


def ansible_playbook(playbook: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"),
                           "-i", os.environ["MOLECULE_INVENTORY_FILE"], str(playbook), *args],
                          capture_output=True, text=True, timeout=900, check=False)


def test_check_mode_on_the_converged_cluster_changes_nothing():
    result = ansible_playbook(REPO / "playbooks" / "site.yml", "--check")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "changed=0" in result.stdout.split("PLAY RECAP", 1)[1], result.stdout[-3000:]


def role_play(tmp_path: Path, group: str, role: str, play_vars: dict | None = None,
              **variables: Any) -> str:
    """Run one role alone, as a user's playbook would; its whole output (stdout and stderr)."""
    play = tmp_path / f"{role}.yml"
    play.write_text(json.dumps([{"name": f"Run {role} alone", "hosts": group, "gather_facts": False,
                                 "vars": play_vars or {},
                                 "roles": [{"role": f"observability.lgtm.{role}", **variables}]}]))
    result = ansible_playbook(play)
    return f"rc={result.returncode}\n{result.stdout}\n{result.stderr}"


# What site.yml gives the demo shop on this cluster: the node agent's Service.
SHOP_ENDPOINT = f"http://otelcol-agent.{NAMESPACE}.svc:4318"


def workload_state(kind: str, name: str) -> tuple[set[str], str]:
    pods = get("pods", selector=f"app.kubernetes.io/name={name}")["items"]
    template = get(kind, name)["spec"]["template"]
    return {p["metadata"]["uid"] for p in pods}, template["metadata"]["annotations"]["observability.lgtm/config"]


def test_a_configuration_the_binary_refuses_fails_the_play_and_leaves_the_pods_running(tmp_path, jaeger, orders):
    before = workload_state("deployment", "jaeger")
    output = role_play(tmp_path, "jaeger", "jaeger",
                       jaeger_config_overrides={"extensions": {"jaeger_query": {"no_such_setting": True}}})
    assert not output.startswith("rc=0")
    assert "own binary refused the new configuration" in output, output[-3000:]
    assert "no_such_setting" in output, "the binary's own message is shown"
    assert workload_state("deployment", "jaeger") == before, "the running pod and its configuration are untouched"
    jobs = get("jobs", selector="observability.lgtm/validates=jaeger")["items"]
    assert jobs and all(job["status"].get("succeeded") for job in jobs), "the refused configuration's Job is gone"
    assert complete_trace(jaeger, orders[0]["trace_id"]), "Jaeger still answers"


def test_a_rollout_that_does_not_complete_shows_the_pods_events_and_keeps_the_old_pods(tmp_path):
    before = workload_state("deployment", "shop-back")
    output = role_play(tmp_path, "demo", "demo_shop", {"lgtm_rollout_timeout": 40},
                       demo_shop_image_tag="0.0.0-not-there", demo_shop_otlp_endpoint=SHOP_ENDPOINT)
    assert not output.startswith("rc=0")
    assert "Deployment/shop-back in observability did not roll out within 40 s" in output, output[-3000:]
    assert "events:" in output and ("ImagePull" in output or "ErrImage" in output), output[-3000:]
    assert before[0] <= workload_state("deployment", "shop-back")[0], "the old pod keeps serving"
    assert place_order(f"during-bad-rollout-{int(time.time())}"), "orders still go through"
    restored = role_play(tmp_path, "demo", "demo_shop", demo_shop_otlp_endpoint=SHOP_ENDPOINT)
    assert restored.startswith("rc=0"), restored[-3000:]


def test_state_absent_removes_what_the_role_created_and_nothing_else(tmp_path):
    sentinel = {"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "not-ours", "namespace": NAMESPACE,
                             "labels": {"app.kubernetes.io/name": "victorialogs"}}}
    kubectl("apply", "-f", "-", stdin=json.dumps(sentinel))
    # What the role creates for a component given a priority value (the agent, by default): cluster-wide, so
    # found by its labels; a class it did not label stays.
    labels = {"app.kubernetes.io/name": "victorialogs", "app.kubernetes.io/part-of": "observability-lgtm",
              "app.kubernetes.io/managed-by": "observability.lgtm"}
    classes = {name: {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "value": 1000,
                      "metadata": {"name": name, **({"labels": labels} if name.startswith("ours") else {})}}
               for name in ("ours-victorialogs", "not-ours-victorialogs")}
    for priority_class in classes.values():
        kubectl("apply", "-f", "-", stdin=json.dumps(priority_class))
    play = tmp_path / "remove.yml"
    play.write_text("""
- name: Remove VictoriaLogs from the cluster
  hosts: victorialogs
  gather_facts: false
  roles:
    - role: observability.lgtm.victorialogs
      victorialogs_state: absent
""")
    result = ansible_playbook(play)
    assert result.returncode == 0, result.stdout[-4000:]
    selector = "app.kubernetes.io/name=victorialogs,app.kubernetes.io/part-of=observability-lgtm"
    left = {item["kind"] for kind in ("deployment", "service", "configmap", "secret", "serviceaccount", "job")
            for item in get(kind, selector=selector)["items"]}
    assert not left, left
    assert get("pvc", "victorialogs-data")["status"]["phase"] == "Bound", "data stays unless purge_data"
    assert get("configmap", "not-ours")["metadata"]["name"] == "not-ours", "an object it did not label stays"
    left_classes = kubectl("get", "priorityclass", "ours-victorialogs", "not-ours-victorialogs", "--ignore-not-found",
                           "-o", "name").split()
    assert left_classes == ["priorityclass.scheduling.k8s.io/not-ours-victorialogs"], left_classes
    kubectl("delete", "priorityclass", "not-ours-victorialogs")
    assert get("deployment", "jaeger")["status"]["readyReplicas"] == 1, "other components stay"
    kubectl("delete", "configmap", "-n", NAMESPACE, "not-ours")


def test_a_rolling_change_of_the_gateway_under_orders_loses_none_and_keeps_each_trace_whole(jaeger, orders):
    """site.yml changes the gateway's configuration (a resource attribute) while orders are sent: the
    StatefulSet replaces its pods one by one, each back on its own claim. Last of this file: the
    converge with TLS (test_kubernetes_tls.py) that follows changes the gateway again anyway, so
    nothing needs changing back (a run of site.yml and a rollout saved)."""
    assert orders, "the stack must work before the gateway changes"
    runs: list[subprocess.CompletedProcess[str]] = []
    before = get("statefulset", "otelcol-gateway")["status"]["currentRevision"]

    def change() -> None:
        runs.append(ansible_playbook(REPO / "playbooks" / "site.yml", "--tags", "otel_collector",
                                     "-e", "lgtm_environment=rolling-change"))
        kubectl("rollout", "status", "-n", NAMESPACE, "statefulset/otelcol-gateway", "--timeout=180s")
    sent, errors, recovered = orders_during(change, "rolling")
    for run in runs:
        assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    lost, split = counted_fault(jaeger, "ROLLING", sent, errors, recovered)
    after = get("statefulset", "otelcol-gateway")["status"]["currentRevision"]
    assert after != before, f"the gateway did not roll out: revision {after}"
    assert lost == 0, f"{lost} of {len(sent)} traces lost while the gateway rolled"
    assert not split, f"traces split over gateway pods while the gateway rolled: {split}"
