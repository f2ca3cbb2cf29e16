"""TLS on every hop and authentication on the lab's Kubernetes (after the plain checks).

test_kubernetes.py proved the plain stack. This converges site.yml again on the
same cluster with lgtm_tls on: a CA the collection generates on the controller
(in the scenario's directory) signs one certificate for the cluster's Services
(*.<namespace>.svc), which every pod mounts where the tls_files filter says; the
collector's bearer token on the agents' and the gateway's OTLP receivers (the
agents and the demo shop send it) and basic auth on Jaeger, Prometheus and
VictoriaLogs, all generated here. That converge runs at -vvv and its output must
hold none of the secrets; a second converge must change nothing. Then, from the
controller (which trusts only the generated CA and reaches each Service by its
name, resolved to its cluster IP): every port of every Service of the stack
refuses plain HTTP and plain gRPC and serves TLS with a certificate for that
name; each backend refuses a client without its password and serves one with
it; orders placed at the demo shop are complete in Jaeger, read over TLS; no
private key is in a ConfigMap.
"""
from __future__ import annotations

import json
import re
import secrets
import subprocess
import time
from typing import Any

import pytest
import yaml
from lgtm_stack import EPHEMERAL, OTLP_GRPC_PATH, TRACE_POLL_S, changed_counts, complete_trace, leaked_secrets, wait_for
from test_kubernetes import NAMESPACE, REPO, ClusterHttp, ansible_playbook, get, kubectl, place_order

CA_DIR = EPHEMERAL / "kubernetes-ca"
EXTRA_VARS = EPHEMERAL / "kubernetes-tls-vars.json"
# The demo shop is the application under observation: its front answers orders over plain HTTP on purpose.
APPLICATION_SERVICES = ("shop-front", "shop-back")
USER = "collector"
ORDERS = 5
GRPC_EMPTY_FRAME = b"\0\0\0\0\0"
FIGURES: dict[str, Any] = {}


@pytest.fixture(scope="module")
def credentials() -> dict[str, str]:
    """Fresh for this run: the token in hex, the passwords in letters and digits (no '$' for the collector's loader)."""
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    return {"token": secrets.token_hex(20),
            **{signal: "".join(secrets.choice(alphabet) for _char in range(32)) for signal in ("metrics", "logs")}}


@pytest.fixture(scope="module")
def converged(credentials) -> tuple[subprocess.CompletedProcess[str], subprocess.CompletedProcess[str], float]:
    """site.yml with TLS and authentication at -vvv, then again; both runs and the first one's seconds."""
    EXTRA_VARS.write_text(json.dumps({
        "lgtm_tls": True, "lgtm_tls_generate_ca": True, "lgtm_tls_ca_dir": str(CA_DIR),
        # The lab's collector build has no basicauth extension: the filter then sends the backends'
        # credentials as a header (over TLS), as in the tls scenario.
        "otel_collector_distribution": yaml.safe_load((REPO / "lab" / "otelcol-builder.yaml").read_text()),
        "lgtm_otlp_bearer_token": credentials["token"],
        # Jaeger 2.12.0 has no basicauth extension (the role refuses users for it): no traces password.
        **{f"lgtm_{signal}_basic_auth": {"username": USER, "password": credentials[signal]}
           for signal in ("metrics", "logs")}}))
    EXTRA_VARS.chmod(0o600)
    started = time.monotonic()
    first = ansible_playbook(REPO / "playbooks" / "site.yml", "-e", f"@{EXTRA_VARS}", "-vvv")
    seconds = round(time.monotonic() - started, 1)
    second = ansible_playbook(REPO / "playbooks" / "site.yml", "-e", f"@{EXTRA_VARS}")
    return first, second, seconds


def cluster_ip(service: str) -> str:
    return get("service", service)["spec"]["clusterIP"]


def service_addresses(service: str) -> list[str]:
    """Where a Service's name leads: its cluster IP, or for a headless Service each ready pod's address."""
    address = cluster_ip(service)
    if address != "None":
        return [address]
    slices = get("endpointslices", selector=f"kubernetes.io/service-name={service}")["items"]
    return sorted({pod for item in slices for endpoint in item.get("endpoints") or []
                   if endpoint.get("conditions", {}).get("ready") for pod in endpoint["addresses"]})


def curl(service: str, port: int, url_path: str, *args: str, tls: bool = True,
         headers: bool = True, address: str | None = None) -> tuple[int, str, str]:
    """curl from the controller to a Service (or to `address`, one of its pods): with TLS by its name
    (resolved to that address) trusting only the generated CA, else plain to that address. Exit status,
    HTTP status ('' when none), the output: the response's headers (unless headers=False) and body, then
    curl's messages."""
    name = f"{service}.{NAMESPACE}.svc"
    address = address or cluster_ip(service)
    if tls:
        target = ["--cacert", str(CA_DIR / "ca.crt"), "--resolve", f"{name}:{port}:{address}",
                  f"https://{name}:{port}{url_path}"]
    else:
        target = [f"http://{address}:{port}{url_path}"]
    result = subprocess.run(["curl", "-sS", "-m", "10", *(["-D", "-"] if headers else []), "-o", "-",
                             "-w", "\nHTTP_CODE=%{http_code}", *args, *target],
                            capture_output=True, text=True, timeout=30, check=False)
    code = re.search(r"HTTP_CODE=(\d+)", result.stdout)
    return result.returncode, code.group(1) if code and code.group(1) != "000" else "", result.stdout + result.stderr


class TlsClusterHttp(ClusterHttp):
    """A component's HTTP API at its Service over TLS, with its password if it checks one, called from the controller."""

    def __init__(self, component: str, port: int, password: str | None) -> None:
        super().__init__(component, f"https://{component}.{NAMESPACE}.svc:{port}")
        self.port, self.password = port, password

    def call(self, url: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        self.calls.append(url)
        path = url.split(f":{self.port}", 1)[1]
        login = ["-u", f"{USER}:{self.password}"] if self.password else []
        _rc, status, text = curl(self.component, self.port, path, *login, headers=False)
        payload = text.rsplit("\nHTTP_CODE=", 1)[0]
        try:
            return int(status or 0), json.loads(payload)
        except ValueError:
            return int(status or 0), payload


def stack_service_ports() -> list[tuple[str, int]]:
    """(service, port) of every Service of the stack in the namespace, the application's left out."""
    services = get("service", selector="app.kubernetes.io/part-of=observability-lgtm")["items"]
    return [(item["metadata"]["name"], port["port"]) for item in services
            if item["metadata"]["name"] not in APPLICATION_SERVICES for port in item["spec"]["ports"]]


def test_converge_with_tls_succeeds_and_the_next_run_changes_nothing(converged):
    first, second, seconds = converged
    assert first.returncode == 0, first.stdout[-4000:] + first.stderr[-2000:]
    assert second.returncode == 0, second.stdout[-4000:] + second.stderr[-2000:]
    assert changed_counts(second) and set(changed_counts(second).values()) == {0}, second.stdout[-3000:]
    FIGURES.update({"converge_with_tls_vvv_s": seconds, "rerun_changed": changed_counts(second)})


def test_the_vvv_converge_prints_no_secret(converged, credentials):
    first = converged[0]
    output = first.stdout + first.stderr
    leaks, keys_checked = leaked_secrets(output, CA_DIR, credentials["token"], USER,
                                         [credentials[signal] for signal in ("metrics", "logs")])
    FIGURES["vvv"] = {"lines_scanned": len(output.splitlines()), "hits": {k: len(v) for k, v in leaks.items()},
                      "private_keys_checked": keys_checked}
    assert not any(leaks.values()), json.dumps(leaks, indent=1)[:4000]


def test_every_service_port_refuses_plain_text_and_serves_tls_for_its_name(converged):
    ports = stack_service_ports()
    assert {"otelcol-agent", "otelcol-gateway", "jaeger", "prometheus", "victorialogs"} <= {s for s, _p in ports}, ports
    problems = []
    grpc_body = EPHEMERAL / "empty.grpc"
    grpc_body.write_bytes(GRPC_EMPTY_FRAME)
    # A headless Service (the gateway's, which the agents balance over) leads to each pod: each is checked.
    targets = [(service, port, address) for service, port in ports for address in service_addresses(service)]
    for service, port, address in targets:
        where = f"{service}:{port} ({address})"
        rc, status, text = curl(service, port, "/", tls=False, address=address)
        if not (rc != 0 or not status or (status == "400" and "HTTPS server" in text)):
            problems.append(f"{where} answered plain HTTP: {status} {text[-200:]!r}")
        rc, status, text = curl(service, port, OTLP_GRPC_PATH, "--http2-prior-knowledge", "-H",
                                "content-type: application/grpc", "-H", "te: trailers", "--data-binary",
                                f"@{grpc_body}", tls=False, address=address)
        if rc == 0 and "grpc-status: 0" in text.lower():
            problems.append(f"{where} took a plain-text gRPC export")
        rc, status, text = curl(service, port, "/", address=address)
        if rc != 0 or not status:
            problems.append(f"{where} did not serve TLS for {service}.{NAMESPACE}.svc: rc={rc} {text[-300:]!r}")
    FIGURES["ports_checked"] = [f"{service}:{port} ({address})" for service, port, address in targets]
    assert not problems, "\n".join(problems)


def test_each_backend_that_checks_one_and_the_collector_refuse_a_client_without_its_credential(converged, credentials):
    def statuses(service: str, port: int, path: str, good: list[str], *args: str) -> dict[str, str]:
        return {"none": curl(service, port, path, *args)[1],
                "wrong": curl(service, port, path, *args, "-u", f"{USER}:wrong")[1],
                "right": curl(service, port, path, *args, *good)[1]}

    otlp = ["-H", "Content-Type: application/json", "--data-binary", "{}"]
    found = {
        "prometheus": statuses("prometheus", 9090, "/api/v1/query?query=up", ["-u", f"{USER}:{credentials['metrics']}"]),
        "victorialogs": statuses("victorialogs", 9428, "/metrics", ["-u", f"{USER}:{credentials['logs']}"]),
        "otelcol-gateway": statuses("otelcol-gateway", 4318, "/v1/traces",
                                    ["-H", f"Authorization: Bearer {credentials['token']}"], *otlp),
        "otelcol-agent": statuses("otelcol-agent", 4318, "/v1/traces",
                                  ["-H", f"Authorization: Bearer {credentials['token']}"], *otlp),
    }
    # Jaeger 2.12.0 checks no credential (no basicauth extension): over TLS it answers without one.
    jaeger_open = curl("jaeger", 16686, "/api/services")[1]
    FIGURES["credentials"] = {**found, "jaeger_without_credentials": jaeger_open}
    assert all(item == {"none": "401", "wrong": "401", "right": "200"} for item in found.values()), found
    assert jaeger_open == "200", jaeger_open


def test_orders_are_traced_end_to_end_over_tls(converged):
    jaeger = TlsClusterHttp("jaeger", 16686, None)
    results = []
    for number in range(ORDERS):
        sent = time.monotonic()
        trace_id = place_order(f"k8s-tls-{int(time.time())}-{number}")
        spans = wait_for(lambda trace_id=trace_id: complete_trace(jaeger, trace_id), seconds=60, interval=TRACE_POLL_S)
        results.append({"trace_id": trace_id, "complete": bool(spans),
                        "visible_after_s": round(time.monotonic() - sent, 3) if spans else None})
    FIGURES["orders"] = results
    assert all(item["complete"] for item in results), jaeger.explain("traces not complete over TLS", results)


def test_private_keys_are_in_secrets_only(converged):
    configmaps = kubectl("get", "configmaps", "-n", NAMESPACE, "-o", "json")
    assert "PRIVATE KEY" not in configmaps
    secrets_found = get("secret", selector="app.kubernetes.io/part-of=observability-lgtm")["items"]
    with_key = sorted(item["metadata"]["name"].rsplit("-secret-", 1)[0] for item in secrets_found
                      if "tls.key" in item.get("data", {}))
    FIGURES["secrets_with_a_key"] = with_key
    assert {"otelcol-gateway", "otelcol-agent", "jaeger", "prometheus", "victorialogs"} <= set(with_key), with_key


def test_figures_tls(converged):
    print("\nFIGURES-KUBERNETES-TLS " + json.dumps(FIGURES))
    (EPHEMERAL / "figures-kubernetes-tls.json").write_text(json.dumps(FIGURES, indent=2) + "\n")
