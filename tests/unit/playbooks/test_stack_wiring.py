"""site.yml's wiring, for every choice of backends, rendered by Ansible itself.

The inventory picks one backend per signal; the wiring role and
playbooks/vars/stack.yml turn that into the collector's pipeline spec (rendered
through the otelcol_config filter) and Grafana's datasources. The stack
scenarios run two of these combinations; this renders all of them, Grafana
with Jaeger and Prometheus included (Grafana does not run in the lab), and the
inventories the wiring must refuse.
"""
from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
PLAY = """
- name: Wire the stack and render what site.yml hands to the roles
  hosts: all
  gather_facts: false
  vars_files: ["{repo}/playbooks/vars/stack.yml", "{repo}/roles/otel_collector/defaults/main.yml",
               "{repo}/roles/grafana/defaults/main.yml", "{repo}/roles/grafana/vars/main.yml"]
  tasks:
    - name: Set the wiring facts
      ansible.builtin.include_role:
        name: observability.lgtm.wiring
    - name: Show the rendered data
      ansible.builtin.debug:
        msg: "LGTM-RENDERED {{{{ {{'spec': lgtm_stack_collector_spec,
                                    'config': lgtm_stack_collector_spec | combine({{'memory': {{'limit_mib': 512}}}})
                                              | observability.lgtm.otelcol_config,
                                    'datasources': lgtm_stack_datasources,
                                    'tls_config': (lgtm_stack_collector_spec
                                                   | combine(lgtm_stack_collector_tls, recursive=true)
                                                   | combine({{'memory': {{'limit_mib': 512}}}})
                                                   | observability.lgtm.otelcol_config)
                                                  if lgtm_tls | default(false) | bool else None,
                                    'agent': (lgtm_stack_collector_agent_spec
                                              | combine(lgtm_stack_collector_agent_tls if lgtm_tls | default(false) | bool
                                                        else {{}}, recursive=true)
                                              | combine({{'memory': {{'limit_mib': 512}},
                                                         'kubernetes': {{'role': 'agent', 'node_data': true}}}})
                                              | observability.lgtm.otelcol_config)
                                             if wiring_endpoints.otel_collector.kubernetes else None,
                                    'host_agent': (lgtm_stack_host_agent_spec
                                                   | combine(lgtm_stack_collector_agent_tls
                                                             if lgtm_tls | default(false) | bool else {{}},
                                                             recursive=true)
                                                   | combine({{'memory': {{'limit_mib': 256}}}})
                                                   | observability.lgtm.otelcol_config)
                                                  if wiring_endpoints.otel_collector.agents else None,
                                    'gateway_host': (lgtm_stack_collector_spec
                                                     | combine(lgtm_stack_collector_host_telemetry, recursive=true)
                                                     | combine({{'memory': {{'limit_mib': 512}}}})
                                                     | observability.lgtm.otelcol_config)
                                                    if not wiring_endpoints.otel_collector.kubernetes else None,
                                    'dashboards': lgtm_stack_dashboards | map(attribute='uid') | list,
                                    'plugins_checked': grafana_datasource_plugins,
                                    'plugins_installed': grafana_plugins_installed}} | to_json }}}}"
      run_once: true
      vars:
        # What site.yml hands the grafana role (the plugins follow from its data sources).
        grafana_datasources: "{{{{ lgtm_stack_datasources }}}}"
    - name: Show where each host's demo shop would send
      ansible.builtin.debug:
        msg: "LGTM-DEMO {{{{ inventory_hostname }}}} {{{{ lgtm_stack_demo_otlp_endpoint }}}}"
    - name: Show the OTLP receiver the traces backend's role will read on each host
      ansible.builtin.debug:
        msg: "LGTM-TRACES-OTLP {{{{ inventory_hostname }}}} {{{{ lookup('ansible.builtin.vars',
              wiring_endpoints.traces.type ~ '_otlp_grpc_endpoint', default='unset') }}}}"
"""


def run_play(tmp_path: Path, groups: dict[str, list[str]],
             host_vars: dict | None = None) -> subprocess.CompletedProcess[str]:
    hosts = sorted(set(itertools.chain.from_iterable(groups.values())))
    inventory = {"all": {"hosts": {host: {"ansible_connection": "local", **(host_vars or {})} for host in hosts},
                         "children": {group: {"hosts": {host: {} for host in members}}
                                      for group, members in groups.items()}}}
    (tmp_path / "inventory.yml").write_text(yaml.safe_dump(inventory))
    (tmp_path / "play.yml").write_text(PLAY.format(repo=REPO))
    # stack.yml reads the dashboards beside the playbook, as site.yml's.
    (tmp_path / "dashboards").symlink_to(REPO / "playbooks" / "dashboards")
    return subprocess.run(
        [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(tmp_path / "inventory.yml"),
         str(tmp_path / "play.yml")],
        capture_output=True, text=True, check=False, timeout=300,
        env={**os.environ, "ANSIBLE_FORCE_COLOR": "0", "ANSIBLE_NOCOLOR": "1",
             "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.default"})


def rendered(tmp_path: Path, groups: dict[str, list[str]], host_vars: dict | None = None) -> dict:
    result = run_play(tmp_path, groups, host_vars)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    messages = [json.loads("{" + line.strip().rstrip(",") + "}")["msg"]
                for line in result.stdout.splitlines() if '"msg": "LGTM-' in line]
    out = json.loads(next(m for m in messages if m.startswith("LGTM-RENDERED ")).split(" ", 1)[1])
    out["demo"] = dict(m.split(" ")[1:] for m in messages if m.startswith("LGTM-DEMO "))
    out["traces_otlp"] = dict(m.split(" ")[1:] for m in messages if m.startswith("LGTM-TRACES-OTLP "))
    return out


COMBINATIONS = list(itertools.product(["tempo", "jaeger"], ["mimir", "prometheus"], ["loki", "victorialogs"]))


@pytest.mark.parametrize("traces,metrics,logs", COMBINATIONS, ids=["-".join(c) for c in COMBINATIONS])
def test_every_backend_choice_wires_the_collector_and_grafana(tmp_path, traces, metrics, logs):
    groups = {"otel_collector": ["aio"], traces: ["aio"], metrics: ["aio"], logs: ["aio"], "grafana": ["aio"],
              "demo": ["aio"]}
    out = rendered(tmp_path, groups)
    backends = out["spec"]["backends"]
    assert {name: backend["type"] for name, backend in backends.items()} == \
        {"traces": traces, "metrics": metrics, "logs": logs}
    # The traces backend shares the host with a collector: its OTLP port moved off 4317.
    assert int(backends["traces"]["port"]) == 14317
    exporters = out["config"]["exporters"]
    assert any(name.endswith("/traces") and cfg.get("endpoint", "").endswith(":14317")
               for name, cfg in exporters.items()), exporters
    metrics_url = {"mimir": "http://aio:9009/otlp", "prometheus": "http://aio:9090/api/v1/otlp"}[metrics]
    logs_url = {"loki": "http://aio:3100/otlp", "victorialogs": "http://aio:9428/insert/opentelemetry"}[logs]
    endpoints = {cfg.get("endpoint") for cfg in exporters.values()}
    assert metrics_url in endpoints and logs_url in endpoints, exporters
    assert out["demo"] == {"aio": "http://127.0.0.1:4318"}
    # The wiring itself gives the traces backend's role the moved receiver.
    assert out["traces_otlp"] == {"aio": "0.0.0.0:14317"}
    # The stack's own scrape: a job per component, all with the job label lgtm-stack, each target's series
    # labelled with its component (the stack dashboard tells the collector from Jaeger by it).
    jobs = out["config"]["receivers"]["prometheus/stack"]["config"]["scrape_configs"]
    assert {job["static_configs"][0]["labels"]["component"] for job in jobs} == \
        {"otel_collector", traces, metrics, logs, "grafana"}
    # The collector's own series are named by the gateway (127.0.0.1 would be the same on several);
    # one gateway scrapes every other target itself.
    job_label = {"target_label": "job", "replacement": "lgtm-stack"}
    relabel = {job["static_configs"][0]["labels"]["component"]: job["relabel_configs"] for job in jobs}
    assert relabel.pop("otel_collector") == [job_label, {"target_label": "instance", "replacement": "aio"}]
    assert all(configs == [job_label] for configs in relabel.values()), relabel

    datasources = {ds["uid"]: ds for ds in out["datasources"]}
    logs_type = {"loki": "loki", "victorialogs": "victoriametrics-logs-datasource"}[logs]
    expected = {"lgtm-traces": traces, "lgtm-metrics": "prometheus", "lgtm-logs": logs_type}
    assert {uid: ds["type"] for uid, ds in datasources.items()} == expected
    assert datasources["lgtm-logs"]["url"] == {"loki": "http://aio:3100", "victorialogs": "http://aio:9428"}[logs]
    # A log line's trace_id links to the trace, whichever backend holds the logs.
    assert datasources["lgtm-logs"]["jsonData"]["derivedFields"] == [
        {"name": "TraceID", "matcherType": "label", "matcherRegex": "trace_id", "datasourceUid": "lgtm-traces",
         "url": "$${__value.raw}", "urlDisplayLabel": "View trace"}]
    # Grafana is asked for the plugin of every data source; it installs only VictoriaLogs' (the release carries the rest).
    assert out["plugins_checked"] == sorted({traces, "prometheus", logs_type})
    installed = out["plugins_installed"]
    if logs == "victorialogs":
        assert [(plugin["id"], plugin["version"], plugin["checksum_algorithm"]) for plugin in installed] == [
            ("victoriametrics-logs-datasource", "0.30.1", "sha1")]
    else:
        assert installed == []
    # The logs dashboard's queries are LogsQL: shipped with VictoriaLogs' data source only.
    assert out["dashboards"] == ["lgtm-stack", "lgtm-demo-shop", "lgtm-hosts",
                                 *(["lgtm-logs"] if logs == "victorialogs" else [])]
    trace_links = datasources["lgtm-traces"]["jsonData"]
    assert trace_links["tracesToMetrics"]["datasourceUid"] == "lgtm-metrics"
    assert bool(trace_links["tracesToLogsV2"]) == (logs == "loki")
    assert datasources["lgtm-metrics"]["jsonData"]["exemplarTraceIdDestinations"] == \
        [{"name": "trace_id", "datasourceUid": "lgtm-traces"}]
    assert datasources["lgtm-metrics"]["url"] == \
        {"mimir": "http://aio:9009/prometheus", "prometheus": "http://aio:9090"}[metrics]
    assert datasources["lgtm-traces"]["url"] == {"tempo": "http://aio:3200", "jaeger": "http://aio:16686"}[traces]


def test_distributed_hosts_keep_the_default_ports_but_the_traces_receivers_move_off_the_agents(tmp_path):
    out = rendered(tmp_path, {"otel_collector": ["collector"], "jaeger": ["traces"], "prometheus": ["metrics"],
                              "victorialogs": ["logs"], "demo": ["shop"]})
    traces = out["spec"]["backends"]["traces"]
    # The traces host runs an agent (every host but the gateway's does), which keeps 4317 and 4318.
    assert (traces["type"], traces["host"], int(traces["port"])) == ("jaeger", "traces", 14317)
    assert [ds["type"] for ds in out["datasources"]] == ["jaeger", "prometheus", "victoriametrics-logs-datasource"]
    assert out["datasources"][2]["url"] == "http://logs:9428"
    # The demo shop sends to a collector on its own host: with no otel_agents group every host but the
    # gateway's runs an agent.
    assert out["demo"]["shop"] == "http://127.0.0.1:4318"
    assert out["demo"]["collector"] == "http://127.0.0.1:4318"
    # Only the traces host gets the variable.
    assert out["traces_otlp"] == {"collector": "unset", "logs": "unset", "metrics": "unset", "shop": "unset",
                                  "traces": "0.0.0.0:14317"}


def test_every_other_host_gets_an_agent_that_reads_its_host_and_forwards_to_the_gateway(tmp_path):
    out = rendered(tmp_path, {"otel_collector": ["collector"], "jaeger": ["traces"], "prometheus": ["metrics"],
                              "victorialogs": ["logs"], "demo": ["shop"]}, {"lgtm_host_journal": False})
    agent = out["host_agent"]
    assert agent["exporters"]["otlp_grpc/gateway"]["endpoint"] == "collector:4317"
    assert set(agent["receivers"]) == {"otlp", "host_metrics", "file_log/host"}
    assert agent["receivers"]["file_log/host"]["include"] == ["/var/log/*.log", "/var/log/syslog", "/var/log/messages"]
    pipelines = agent["service"]["pipelines"]
    assert pipelines["metrics"]["receivers"] == ["otlp", "host_metrics"]
    assert pipelines["logs"]["receivers"] == ["otlp", "file_log/host"]
    # The agent is on the applications' host: everything it sends carries the host's name.
    assert all("resource_detection" in pipeline["processors"] for pipeline in pipelines.values())
    assert "file_storage/queue" in agent["extensions"] and "file_storage/filelog_host" in agent["extensions"]
    # The offsets have a folder of their own: a spec with the disk queue off keeps them too.
    assert agent["extensions"]["file_storage/filelog_host"]["directory"] == "/var/lib/otelcol/offsets"
    assert out["gateway_host"]["extensions"]["file_storage/filelog_host"]["directory"] == "/var/lib/otelcol/offsets"
    # The gateway reads its own host in pipelines of their own; only those get its host's name.
    gateway = out["gateway_host"]["service"]["pipelines"]
    assert gateway["metrics/host"]["receivers"] == ["host_metrics"]
    assert gateway["logs/host"]["receivers"] == ["file_log/host"]
    assert [name for name, pipeline in gateway.items() if "resource_detection" in pipeline["processors"]] == \
        ["metrics/host", "logs/host"]
    for config in (agent, out["gateway_host"]):
        validate_with_the_lab_collector(config, tmp_path)


def validate_with_the_lab_collector(config: dict, tmp_path: Path) -> None:
    """The lab collector's `validate` accepts the config, its disk folders moved under tmp_path."""
    binary = os.environ.get("LGTM_OTELCOL_BIN")
    if not binary:
        pytest.fail("LGTM_OTELCOL_BIN is not set: `make units` builds the lab collector and sets it")
    config = json.loads(json.dumps(config))
    for name, extension in config["extensions"].items():
        if name.startswith("file_storage"):
            extension["directory"] = str(tmp_path / name.replace("/", "_"))
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    result = subprocess.run([binary, "validate", f"--config={path}"], capture_output=True, text=True, check=False,
                            timeout=120)
    assert result.returncode == 0, result.stderr + path.read_text()


def test_the_journal_is_read_where_the_collector_build_has_journald(tmp_path):
    out = rendered(tmp_path, {"otel_collector": ["collector"], "jaeger": ["traces"], "prometheus": ["metrics"],
                              "victorialogs": ["logs"]})
    assert out["host_agent"]["service"]["pipelines"]["logs"]["receivers"] == ["otlp", "file_log/host", "journald"]
    assert out["gateway_host"]["service"]["pipelines"]["logs/host"]["receivers"] == ["file_log/host", "journald"]


def test_with_tls_the_host_agents_send_to_the_gateway_over_tls_with_the_token(tmp_path):
    out = rendered(tmp_path, {"otel_collector": ["collector"], "jaeger": ["traces"], "prometheus": ["metrics"],
                              "victorialogs": ["logs"]},
                   {"lgtm_tls": True, "lgtm_otlp_bearer_token": "t0ken", "lgtm_host_journal": False})
    exporter = out["host_agent"]["exporters"]["otlp_grpc/gateway"]
    assert exporter["tls"] == {"ca_file": "/etc/otelcol/tls/ca.crt"}
    assert exporter["headers"] == {"Authorization": "Bearer t0ken"}
    assert out["host_agent"]["receivers"]["otlp"]["protocols"]["grpc"]["tls"]["cert_file"] == \
        "/etc/otelcol/tls/tls.crt"


def test_a_host_without_an_agent_sends_to_the_first_collector(tmp_path):
    out = rendered(tmp_path, {"otel_collector": ["collector"], "jaeger": ["traces"], "prometheus": ["metrics"],
                              "victorialogs": ["logs"], "demo": ["shop"], "otel_agents": ["metrics"]})
    assert out["demo"]["shop"] == "http://collector:4318"
    # No collector on the traces host: its OTLP receivers keep the role's defaults.
    assert out["traces_otlp"]["traces"] == "0.0.0.0:4317"


def test_on_kubernetes_components_are_reached_at_their_services_and_apps_send_to_the_node_agent(tmp_path):
    out = rendered(tmp_path, {"otel_collector": ["cluster"], "jaeger": ["cluster"], "prometheus": ["cluster"],
                              "victorialogs": ["cluster"], "grafana": ["cluster"], "demo": ["cluster"]},
                   {"lgtm_platform": "kubernetes", "lgtm_kubernetes_namespace": "obs"})
    backends = out["spec"]["backends"]
    # Separate pods: no port moves off the collector's.
    assert (backends["traces"]["host"], int(backends["traces"]["port"])) == ("jaeger.obs.svc", 4317)
    assert backends["metrics"]["host"] == "prometheus.obs.svc" and backends["logs"]["host"] == "victorialogs.obs.svc"
    assert out["demo"] == {"cluster": "http://otelcol-agent.obs.svc:4318"}
    assert out["traces_otlp"] == {"cluster": "0.0.0.0:4317"}
    assert {ds["url"] for ds in out["datasources"]} == {"http://jaeger.obs.svc:16686", "http://prometheus.obs.svc:9090"}
    # The gateway keeps the queue on disk; the agent tags with pod metadata and sends to the gateway.
    assert "file_storage" in str(out["config"]["extensions"])
    agent = out["agent"]
    # Each trace whole to one gateway pod (by trace ID), metrics and logs by their resource, over
    # the pods the gateway's headless Service names.
    routing = {signal: agent["exporters"][f"load_balancing/gateway_{signal}"]["routing_key"]
               for signal in ("traces", "metrics", "logs")}
    assert routing == {"traces": "traceID", "metrics": "resource", "logs": "resource"}
    # The list of pods stays fixed while one restarts: its traces wait for it instead of going, split,
    # to the other; as many as the role runs (otel_collector_kubernetes_gateway_replicas, 2).
    assert agent["exporters"]["load_balancing/gateway_traces"]["resolver"] == {"static": {"hostnames": [
        "otelcol-gateway-0.otelcol-gateway-headless.obs.svc:4317",
        "otelcol-gateway-1.otelcol-gateway-headless.obs.svc:4317"]}}
    assert agent["service"]["pipelines"]["traces"]["exporters"] == ["load_balancing/gateway_traces"]
    assert all(pipeline["processors"][:2] == ["memory_limiter", "k8s_attributes"]
               for pipeline in agent["service"]["pipelines"].values()), agent["service"]["pipelines"]
    # It reads every pod's output from the kubelet's files but the collectors' own, and queues on disk.
    pods = agent["receivers"]["file_log/pods"]
    assert pods["include"] == ["/var/log/pods/*/*/*.log"] and pods["exclude"] == ["/var/log/pods/*_otelcol-*/*/*.log"]
    assert pods["operators"] == [{"type": "container"}]
    assert agent["service"]["pipelines"]["logs"]["receivers"] == ["otlp", "file_log/pods"]
    # The queue on disk is the load balancer's own: what a gateway pod did not take is routed again.
    balanced = agent["exporters"]["load_balancing/gateway_logs"]
    assert balanced["sending_queue"]["storage"] == "file_storage/queue"
    assert balanced["retry_on_failure"]["max_elapsed_time"] == "0s"
    assert balanced["protocol"]["otlp"]["sending_queue"] == {"enabled": False}
    assert balanced["protocol"]["otlp"]["retry_on_failure"] == {"enabled": False}
    # It scrapes its own node's kubelet with its service account, the kubelet's certificate checked.
    jobs = {job["job_name"]: job for job in agent["receivers"]["prometheus/kubelet"]["config"]["scrape_configs"]}
    assert {name: job["metrics_path"] for name, job in jobs.items()} == {
        "kubelet-resource": "/metrics/resource", "kubelet-cadvisor": "/metrics/cadvisor"}
    for job in jobs.values():
        assert job["static_configs"] == [{"targets": ["${env:K8S_NODE_IP}:10250"]}] and job["scheme"] == "https"
        assert job["tls_config"] == {"ca_file": "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"}
        assert job["authorization"] == {"type": "Bearer",
                                        "credentials_file": "/var/run/secrets/kubernetes.io/serviceaccount/token"}
    assert agent["service"]["pipelines"]["metrics"]["receivers"] == ["otlp", "host_metrics", "prometheus/kubelet"]
    # cAdvisor's metrics are kept to a list (every metric times every container otherwise).
    keep = jobs["kubelet-cadvisor"]["metric_relabel_configs"][-1]
    assert keep["action"] == "keep" and "container_memory_working_set_bytes" in keep["regex"].split("|")
    assert len(jobs["kubelet-resource"]["metric_relabel_configs"]) == 1


def test_on_kubernetes_the_agent_can_read_no_pod_logs_and_no_kubelet(tmp_path):
    out = rendered(tmp_path, {"otel_collector": ["cluster"], "jaeger": ["cluster"], "prometheus": ["cluster"],
                              "victorialogs": ["cluster"]},
                   {"lgtm_platform": "kubernetes", "lgtm_kubernetes_pod_logs": False,
                    "lgtm_kubernetes_kubelet_metrics": False})
    assert "file_log/pods" not in out["agent"]["receivers"]
    assert out["agent"]["service"]["pipelines"]["logs"]["receivers"] == ["otlp"]
    assert "prometheus/kubelet" not in out["agent"]["receivers"]
    assert out["agent"]["service"]["pipelines"]["metrics"]["receivers"] == ["otlp", "host_metrics"]


def test_on_kubernetes_a_self_signed_kubelet_is_scraped_only_when_asked_and_cadvisor_may_keep_all(tmp_path):
    out = rendered(tmp_path, {"otel_collector": ["cluster"], "jaeger": ["cluster"], "prometheus": ["cluster"],
                              "victorialogs": ["cluster"]},
                   {"lgtm_platform": "kubernetes", "lgtm_kubernetes_kubelet_insecure_skip_verify": True,
                    "lgtm_kubernetes_kubelet_port": 10350, "lgtm_kubernetes_cadvisor_metrics": []})
    for job in out["agent"]["receivers"]["prometheus/kubelet"]["config"]["scrape_configs"]:
        assert len(job["metric_relabel_configs"]) == 1  # [] keeps every cAdvisor metric
        assert job["tls_config"] == {"insecure_skip_verify": True}
        assert job["static_configs"] == [{"targets": ["${env:K8S_NODE_IP}:10350"]}]
        assert job["authorization"]["credentials_file"] == "/var/run/secrets/kubernetes.io/serviceaccount/token"


@pytest.mark.parametrize("groups,message", [
    ({"otel_collector": ["a"], "tempo": ["a"], "jaeger": ["b"], "prometheus": ["a"], "loki": ["a"]},
     "traces need exactly one backend, in exactly one of the inventory groups tempo or jaeger, with one host "
     "(it runs as one node); groups with hosts: tempo, jaeger."),
    ({"otel_collector": ["a"], "jaeger": ["a"], "prometheus": ["a"]},
     "logs need exactly one backend, in exactly one of the inventory groups loki or victorialogs, with one host "
     "(it runs as one node); groups with hosts: none."),
    ({"otel_collector": ["a"], "jaeger": ["a"], "prometheus": ["a", "b"], "victorialogs": ["a"]},
     "metrics need exactly one backend"),
    ({"jaeger": ["a"], "prometheus": ["a"], "victorialogs": ["a"]},
     "Inventory group 'otel_collector' (wiring_groups.otel_collector) must have at least one host"),
], ids=["two-trace-backends", "no-logs-backend", "two-metrics-hosts", "no-collector"])
def test_wrong_inventories_fail_naming_the_groups(tmp_path, groups, message):
    result = run_play(tmp_path, groups)
    assert result.returncode != 0
    assert message in result.stdout + result.stderr, result.stdout[-3000:]
    assert "LGTM-RENDERED" not in result.stdout


def test_with_tls_tempo_mimir_loki_and_grafana_are_wired_over_https_with_the_ca(tmp_path):
    groups = {"otel_collector": ["aio"], "tempo": ["aio"], "mimir": ["aio"], "loki": ["aio"], "grafana": ["aio"]}
    out = rendered(tmp_path, groups, {"lgtm_tls": True,
                                      "lgtm_metrics_basic_auth": {"username": "lgtm", "password": "s3cret"}})
    ca = "/etc/otelcol/tls/ca.crt"
    exporters = out["tls_config"]["exporters"]
    assert exporters["otlp_grpc/traces"]["endpoint"] == "aio:14317"
    assert exporters["otlp_grpc/traces"]["tls"] == {"ca_file": ca}
    assert exporters["otlp_http/metrics"]["endpoint"] == "https://aio:9009/otlp"
    assert exporters["otlp_http/metrics"]["tls"] == {"ca_file": ca}
    assert exporters["otlp_http/logs"]["endpoint"] == "https://aio:3100/otlp"
    assert exporters["otlp_http/logs"]["tls"] == {"ca_file": ca}
    datasources = {ds["uid"]: ds for ds in out["datasources"]}
    assert {uid: ds["url"] for uid, ds in datasources.items()} == {
        "lgtm-traces": "https://aio:3200", "lgtm-metrics": "https://aio:9009/prometheus", "lgtm-logs": "https://aio:3100"}
    for ds in datasources.values():
        assert ds["jsonData"]["tlsAuthWithCACert"] is True, ds["uid"]
        # Grafana expands $__file{} when it loads provisioning: the CA on its own host.
        assert ds["secureJsonData"]["tlsCACert"] == "$__file{/etc/grafana/tls/ca.crt}", ds["uid"]
        # Mimir does not check lgtm_metrics_basic_auth (Prometheus does): no credential sent to it.
        assert "basicAuth" not in ds and "basicAuthPassword" not in ds["secureJsonData"], ds["uid"]
    # The link settings survive the merge.
    assert datasources["lgtm-traces"]["jsonData"]["serviceMap"] == {"datasourceUid": "lgtm-metrics"}


def test_with_tls_the_prometheus_datasource_logs_in(tmp_path):
    groups = {"otel_collector": ["aio"], "jaeger": ["aio"], "prometheus": ["aio"], "victorialogs": ["aio"],
              "grafana": ["aio"]}
    out = rendered(tmp_path, groups, {"lgtm_tls": True,
                                      "lgtm_metrics_basic_auth": {"username": "lgtm", "password": "s3cret"}})
    metrics = next(ds for ds in out["datasources"] if ds["uid"] == "lgtm-metrics")
    assert metrics["url"] == "https://aio:9090"
    assert (metrics["basicAuth"], metrics["basicAuthUser"]) == (True, "lgtm")
    assert metrics["secureJsonData"] == {"basicAuthPassword": "s3cret",
                                         "tlsCACert": "$__file{/etc/grafana/tls/ca.crt}"}
    assert metrics["jsonData"]["tlsAuthWithCACert"] is True and metrics["jsonData"]["prometheusType"] == "Prometheus"


def test_with_tls_on_kubernetes_agents_and_gateway_are_wired_over_tls_with_the_token(tmp_path):
    groups = {"otel_collector": ["cluster"], "jaeger": ["cluster"], "prometheus": ["cluster"],
              "victorialogs": ["cluster"]}
    out = rendered(tmp_path, groups, {"lgtm_tls": True, "lgtm_platform": "kubernetes",
                                      "lgtm_otlp_bearer_token": "t0ken"})
    ca = "/etc/otelcol/tls/ca.crt"
    server_tls = {"cert_file": "/etc/otelcol/tls/tls.crt", "key_file": "/etc/otelcol/tls/tls.key"}
    for name in ("tls_config", "agent"):
        config = out[name]
        for protocol in ("grpc", "http"):
            otlp = config["receivers"]["otlp"]["protocols"][protocol]
            assert otlp["tls"] == server_tls and otlp["auth"]["authenticator"].startswith("bearertokenauth"), name
        assert config["service"]["telemetry"]["metrics"]["readers"][0]["pull"]["exporter"]["prometheus"]["host"] == \
            "127.0.0.1", name
    for signal in ("traces", "metrics", "logs"):
        gateway = out["agent"]["exporters"][f"load_balancing/gateway_{signal}"]
        assert gateway["resolver"]["static"]["hostnames"][0] == \
            "otelcol-gateway-0.otelcol-gateway-headless.observability.svc:4317"
        # A pod's name is longer than the certificate's *.<namespace>.svc: checked by the Service's name.
        assert gateway["protocol"]["otlp"]["tls"] == {
            "ca_file": ca, "server_name_override": "otelcol-gateway.observability.svc"}
        assert gateway["protocol"]["otlp"]["headers"] == {"Authorization": "Bearer t0ken"}
    exporters = out["tls_config"]["exporters"]
    assert exporters["otlp_grpc/traces"]["endpoint"] == "jaeger.observability.svc:4317"
    assert exporters["otlp_http/metrics"]["endpoint"].startswith("https://prometheus.observability.svc:9090")
    # Jaeger's own metrics are on its pod's loopback with TLS: the gateway does not scrape them at its own.
    targets = [target for job in out["tls_config"]["receivers"]["prometheus/stack"]["config"]["scrape_configs"]
               for config in job["static_configs"] for target in config["targets"]]
    assert "127.0.0.1:14269" not in targets and "127.0.0.1:8888" in targets, targets


def test_with_tls_jaeger_and_victorialogs_get_their_credentials(tmp_path):
    groups = {"otel_collector": ["aio"], "jaeger": ["aio"], "prometheus": ["aio"], "victorialogs": ["aio"],
              "grafana": ["aio"]}
    logins = {"lgtm_traces_basic_auth": {"username": "traces-user", "password": "t-pass"},
              "lgtm_logs_basic_auth": {"username": "logs-user", "password": "l-pass"}}
    out = rendered(tmp_path, groups, {"lgtm_tls": True, **logins})
    exporters = out["tls_config"]["exporters"]
    # Upstream's contrib build (the default distribution) sends them with its basicauth extension.
    extensions = out["tls_config"]["extensions"]
    for exporter, login in (("otlp_grpc/traces", ("traces-user", "t-pass")), ("otlp_http/logs", ("logs-user", "l-pass"))):
        authenticator = exporters[exporter]["auth"]["authenticator"]
        assert extensions[authenticator] == {"client_auth": {"username": login[0], "password": login[1]}}, exporter
    assert "auth" not in exporters["otlp_http/metrics"]
    jobs = {job["job_name"]: job for job in
            out["tls_config"]["receivers"]["prometheus/stack"]["config"]["scrape_configs"]}
    assert jobs["lgtm-stack-logs"]["basic_auth"] == {"username": "logs-user", "password": "l-pass"}
    assert "basic_auth" not in jobs["lgtm-stack-metrics"]
    # The collector's own series are named by the gateway, as without TLS.
    own = [{"target_label": "instance", "replacement": "aio"}]
    assert {name: (job["static_configs"][0]["labels"], job["relabel_configs"]) for name, job in jobs.items()} == {
        f"lgtm-stack-{name}": ({"component": component}, [{"target_label": "job", "replacement": "lgtm-stack"}]
                               + (own if name == "otel_collector" else []))
        for name, component in (("otel_collector", "otel_collector"), ("jaeger", "jaeger"),
                                ("metrics", "prometheus"), ("logs", "victorialogs"))}
    traces = next(ds for ds in out["datasources"] if ds["uid"] == "lgtm-traces")
    assert (traces["basicAuth"], traces["basicAuthUser"]) == (True, "traces-user")
    assert traces["secureJsonData"] == {"basicAuthPassword": "t-pass", "tlsCACert": "$__file{/etc/grafana/tls/ca.crt}"}
    logs = next(ds for ds in out["datasources"] if ds["uid"] == "lgtm-logs")
    assert (logs["type"], logs["url"]) == ("victoriametrics-logs-datasource", "https://aio:9428")
    assert (logs["basicAuth"], logs["basicAuthUser"]) == (True, "logs-user")
    assert logs["secureJsonData"] == {"basicAuthPassword": "l-pass", "tlsCACert": "$__file{/etc/grafana/tls/ca.crt}"}
    assert logs["jsonData"]["tlsAuthWithCACert"] is True


def test_tempo_takes_no_traces_login_in_its_datasource(tmp_path):
    groups = {"otel_collector": ["aio"], "tempo": ["aio"], "mimir": ["aio"], "loki": ["aio"], "grafana": ["aio"]}
    out = rendered(tmp_path, groups, {"lgtm_tls": True,
                                      "lgtm_traces_basic_auth": {"username": "traces-user", "password": "t-pass"}})
    traces = next(ds for ds in out["datasources"] if ds["uid"] == "lgtm-traces")
    assert "basicAuth" not in traces and "basicAuthPassword" not in traces["secureJsonData"]


def test_on_kubernetes_victorialogs_gets_no_data_source_the_image_cannot_serve(tmp_path):
    # Upstream's Grafana image carries no VictoriaLogs plugin and the role installs none there.
    groups = {"otel_collector": ["cluster"], "jaeger": ["cluster"], "prometheus": ["cluster"],
              "victorialogs": ["cluster"], "grafana": ["cluster"]}
    out = rendered(tmp_path, groups, {"lgtm_platform": "kubernetes", "lgtm_tls": True,
                                      "lgtm_logs_basic_auth": {"username": "logs-user", "password": "l-pass"}})
    assert {ds["uid"]: ds["type"] for ds in out["datasources"]} == {"lgtm-traces": "jaeger", "lgtm-metrics": "prometheus"}
    assert out["plugins_checked"] == ["jaeger", "prometheus"] and out["plugins_installed"] == []
    # Nor the logs dashboard, whose panels query that data source.
    assert out["dashboards"] == ["lgtm-stack", "lgtm-demo-shop", "lgtm-hosts"]


def test_two_gateway_hosts_share_the_scrape_name_their_data_and_agents_balance_over_both(tmp_path):
    groups = {"otel_collector": ["gw1", "gw2"], "jaeger": ["j"], "prometheus": ["p"], "victorialogs": ["v"]}
    out = rendered(tmp_path, groups)  # as gw1, the first gateway, sees it
    config = out["gateway_host"]
    jobs = {job["static_configs"][0]["labels"]["component"]: job
            for job in config["receivers"]["prometheus/stack"]["config"]["scrape_configs"]}
    assert jobs["otel_collector"]["relabel_configs"][-1] == {"target_label": "instance", "replacement": "gw1"}
    for component in ("jaeger", "prometheus", "victorialogs"):
        hashmod, keep = jobs[component]["relabel_configs"][-2:]
        assert hashmod == {"source_labels": ["__address__"], "modulus": 2, "target_label": "__tmp_lgtm_shard",
                           "action": "hashmod"}, component
        assert keep == {"source_labels": ["__tmp_lgtm_shard"], "regex": "0", "action": "keep"}, component
    # Each gateway's span metrics and service graph are its own series: two would write the same ones.
    assert {"key": "collector.gateway", "value": "gw1", "action": "upsert"} in config["processors"]["resource"]["attributes"]
    assert {"name": "collector.gateway"} in config["connectors"]["span_metrics"]["dimensions"]
    assert "collector.gateway" in config["connectors"]["service_graph"]["dimensions"]
    exporters = out["host_agent"]["exporters"]
    assert sorted(exporters) == ["load_balancing/gateway_logs", "load_balancing/gateway_metrics",
                                 "load_balancing/gateway_traces"]
    assert exporters["load_balancing/gateway_traces"]["resolver"] == {"static": {"hostnames": ["gw1:4317", "gw2:4317"]}}
