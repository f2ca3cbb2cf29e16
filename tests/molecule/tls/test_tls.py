"""TLS on every hop, authentication, plain text refused (the tls scenario).

The stack runs with lgtm_tls on, certificates from the CA the collection
generated on the controller, a bearer token on the collector's OTLP receivers
and basic auth on Prometheus (molecule/tls/molecule.yml). First the traced
orders of the stack scenarios, unchanged, over TLS (imported from
tests/molecule/stack: their clients trust the lab CA and send Prometheus'
credentials). Then, for every TCP port the host listens on (`ss -ltnp`, not a
list written here): a loopback-only listener is noted; any other must refuse a
plain-text HTTP request and a plain-text gRPC OTLP export, and must complete a
TLS handshake with a client that trusts the CA. Where authentication is on, a
TLS client without the token or password is refused (401, or gRPC status 16)
and one with it is served. gRPC OTLP is also exported from the controller with
telemetrygen: plain text fails, TLS without the token fails, TLS with it
succeeds. Last, site.yml at -vvv: its whole output holds none of the token, the
password (nor its Basic credential) and the private keys it set.
"""
from __future__ import annotations

import json
import re
import subprocess
import time
from typing import Any

import pytest
from lgtm_stack import (EPHEMERAL, INVENTORY, OTLP_GRPC_PATH, PASSWORD_FILES, SECRETS, figures_of, group_host,
                        leaked_secrets, record_figures, telemetrygen)
# The traced-order checks, run over TLS.
from stack.test_stack import (  # noqa: F401 # pylint: disable=unused-import
    logs, metrics, orders, test_every_order_trace_is_complete_in_the_traces_backend,
    test_logs_backend_returns_the_log_line_with_the_trace_id,
    test_metrics_backend_returns_the_request_counter_with_bounded_labels, test_process_order_span_carries_the_order_id,
    test_span_metrics_reach_the_metrics_backend, test_stack_components_are_scraped,
    test_trace_spans_both_services_linked_across_the_http_hop, traces)

CA_DIR = EPHEMERAL / "ca"
HOST_CA = "/etc/otelcol/tls/ca.crt"
LOOPBACK = re.compile(r"^(127\.[0-9.]+|::1|\[::1\])$")
# The demo shop is the application under observation, not the stack: its front
# answers orders over plain HTTP on purpose (its back listens on loopback).
APPLICATION_UNITS = ("shop-front", "shop-back")
# An empty ExportTraceServiceRequest in gRPC's length-prefixed framing.
GRPC_EMPTY_FRAME = "\\000\\000\\000\\000\\000"
FIGURES: dict[str, Any] = {}


@pytest.fixture(scope="module")
def lab():
    return group_host("otel_collector")


@pytest.fixture(scope="module")
def token() -> str:
    return (SECRETS / "otlp-token").read_text().strip()


@pytest.fixture(scope="module")
def password() -> str:
    return password_of("prometheus")


@pytest.fixture(scope="module")
def listeners(lab) -> list[dict[str, Any]]:
    """Every TCP listener of the host: address, port, and the systemd unit whose cgroup owns the socket
    (ss -p cannot name processes of other users in the lab's container, which has no CAP_SYS_PTRACE)."""
    found = []
    for line in lab.check_output("ss -ltneH").splitlines():
        fields = line.split()
        address, port = fields[3].rsplit(":", 1)
        unit = re.search(r"cgroup:\S*/([^/\s]+)\.service", line)
        found.append({"address": address, "port": int(port), "process": unit.group(1) if unit else "(no unit)"})
    return found


def curl(lab, *args: str) -> tuple[int, str, str]:
    """curl on the host: exit status, HTTP status (or ''), the response headers and body."""
    result = lab.run("curl -sS -m 10 -D - -o - -w '\\nHTTP_CODE=%%{http_code}' " + " ".join(["%s"] * len(args)), *args)
    code = re.search(r"HTTP_CODE=(\d+)", result.stdout)
    return result.rc, code.group(1) if code else "", result.stdout + result.stderr


def plain_http_refused(lab, port: int) -> tuple[bool, str]:
    """A plain HTTP request must not reach a handler: a failed connection, or Go's
    400 'Client sent an HTTP request to an HTTPS server' (the TLS server's refusal)."""
    rc, status, text = curl(lab, f"http://127.0.0.1:{port}/")
    refused = rc != 0 or status in ("", "000") or (status == "400" and "HTTPS server" in text)
    return refused, f"rc={rc} status={status} {text[-200:]!r}"


def plain_grpc_refused(lab, port: int) -> tuple[bool, str]:
    """A plain-text gRPC OTLP export (HTTP/2 without TLS) must fail."""
    rc, status, text = curl(lab, "--http2-prior-knowledge", "-H", "content-type: application/grpc", "-H", "te: trailers",
                            "--data-binary", "@/tmp/tls-empty.grpc", f"http://127.0.0.1:{port}{OTLP_GRPC_PATH}")
    refused = rc != 0 or "grpc-status: 0" not in text.lower()
    return refused, f"rc={rc} status={status} {text[-200:]!r}"


def tls_handshake(lab, port: int) -> tuple[bool, str]:
    """A client that trusts the CA completes the handshake and gets an HTTP answer."""
    rc, status, text = curl(lab, "--cacert", HOST_CA, f"https://127.0.0.1:{port}/")
    return rc == 0 and status not in ("", "000"), f"rc={rc} status={status} {text[-200:]!r}"


def test_plain_text_is_refused_on_every_port_the_stack_listens_on(lab, listeners):
    lab.run(f"printf '{GRPC_EMPTY_FRAME}' > /tmp/tls-empty.grpc")
    checked, loopback, application, problems = [], [], [], []
    for listener in listeners:
        port = listener["port"]
        if LOOPBACK.match(listener["address"]):
            loopback.append(f"{listener['process']}:{port}")
            continue
        if listener["process"] in APPLICATION_UNITS:
            application.append(f"{listener['process']}:{port}")
            continue
        checked.append(f"{listener['process']}:{port}")
        for name, probe in (("plain HTTP", plain_http_refused), ("plain gRPC", plain_grpc_refused)):
            refused, detail = probe(lab, port)
            if not refused:
                problems.append(f"{listener['process']}:{port} answered {name}: {detail}")
        served, detail = tls_handshake(lab, port)
        if not served:
            problems.append(f"{listener['process']}:{port} did not serve TLS with the lab CA: {detail}")
    FIGURES.update({"ports_checked": len(checked), "ports": checked, "plain_http_refused": len(checked),
                    "plain_grpc_refused": len(checked), "loopback_only": loopback, "application_ports": application})
    print(f"\nports checked: {checked}\nloopback only (not reachable from the network): {loopback}\n"
          f"application (demo shop, plain by design): {application}")
    assert checked, listeners
    assert not problems, "\n".join(problems)
    # Every listener that is neither loopback nor the application is the stack's: at least these.
    assert {4317, 4318, 9090, 9428, 16686} <= {int(p.rsplit(":", 1)[1]) for p in checked}, checked


def test_otlp_http_needs_the_token(lab, token):
    url = "https://127.0.0.1:4318/v1/traces"
    base = ["--cacert", HOST_CA, "-H", "Content-Type: application/json", "--data-binary", "{}"]
    without, text = curl(lab, *base, url)[1:]
    wrong = curl(lab, *base, "-H", "Authorization: Bearer not-the-token", url)[1]
    with_token, text_ok = curl(lab, *base, "-H", f"Authorization: Bearer {token}", url)[1:]
    assert (without, wrong) == ("401", "401"), text
    assert with_token == "200", text_ok
    FIGURES["otlp_http"] = {"no_token": without, "wrong_token": wrong, "token": with_token}


def test_otlp_grpc_needs_the_token(lab, token):
    base = ["--cacert", HOST_CA, "--http2", "-H", "content-type: application/grpc", "-H", "te: trailers",
            "--data-binary", "@/tmp/tls-empty.grpc"]
    url = f"https://127.0.0.1:4317{OTLP_GRPC_PATH}"
    lab.run(f"printf '{GRPC_EMPTY_FRAME}' > /tmp/tls-empty.grpc")
    without = curl(lab, *base, url)[2]
    with_token = curl(lab, *base, "-H", f"authorization: Bearer {token}", url)[2]
    assert "grpc-status: 16" in without.lower(), without
    assert "grpc-status: 0" in with_token.lower(), with_token
    FIGURES["otlp_grpc"] = {"no_token": "grpc-status 16", "token": "grpc-status 0"}


def test_prometheus_needs_the_password(lab, password):
    found = http_statuses(lab, "https://127.0.0.1:9090/api/v1/query?query=up", password)
    assert found == {"no_password": "401", "wrong_password": "401", "password": "200"}, found
    # The web config holds a bcrypt hash, never the password.
    web = lab.file("/etc/prometheus/web.yml")
    assert web.contains(r"\$2[aby]\$") and password not in web.content_string
    assert web.mode == 0o640 and lab.file("/etc/prometheus/tls/tls.key").mode == 0o600
    assert lab.file("/etc/prometheus/tls/tls.key").user == "prometheus"
    FIGURES["prometheus"] = found


def password_of(backend: str) -> str:
    return PASSWORD_FILES[backend].read_text().strip()


def http_statuses(lab, url: str, password: str, *args: str) -> dict[str, str]:
    """The HTTP status without credentials, with a wrong password, and with the right one."""
    base = ["--cacert", HOST_CA, *args]
    return {"no_password": curl(lab, *base, url)[1], "wrong_password": curl(lab, *base, "-u", "collector:wrong", url)[1],
            "password": curl(lab, *base, "-u", f"collector:{password}", url)[1]}


def grpc_statuses(lab, url: str, password: str) -> dict[str, str]:
    """The gRPC status of a call with an empty message, without credentials and with them."""
    lab.run(f"printf '{GRPC_EMPTY_FRAME}' > /tmp/tls-empty.grpc")
    base = ["--cacert", HOST_CA, "--http2", "-H", "content-type: application/grpc", "-H", "te: trailers",
            "--data-binary", "@/tmp/tls-empty.grpc"]
    found = {}
    for name, extra in (("no_password", []), ("password", ["-u", f"collector:{password}"])):
        status = re.search(r"grpc-status: (\d+)", curl(lab, *base, *extra, url)[2].lower())
        found[name] = status.group(1) if status else "none"
    return found


def listen_port(endpoint: str) -> int:
    return int(endpoint.rsplit(":", 1)[1])


def test_jaeger_serves_tls_and_checks_no_password_at_its_release(lab):
    """Jaeger 2.12.0, the approved release, has no basicauth extension: the jaeger role refuses
    basic-auth users for it before any change (tests/unit/roles/test_jaeger_basic_auth_release.py),
    so the stack gives it none. Its listeners serve TLS only (the listener test above refuses plain
    text on every port); they answer without credentials, and the configuration has no authenticator."""
    import yaml
    config_file = lab.file("/etc/jaeger/config.yaml")
    config = yaml.safe_load(config_file.content_string)
    otlp = config["receivers"]["otlp"]["protocols"]
    query = config["extensions"]["jaeger_query"]
    assert not any(name.startswith("basicauth") for name in config["extensions"]), config["extensions"].keys()
    assert "auth" not in otlp["grpc"] and "auth" not in otlp["http"] and "auth" not in query["http"]
    found = {
        "query_http": curl(lab, "--cacert", HOST_CA,
                           f"https://127.0.0.1:{listen_port(query['http']['endpoint'])}/api/services")[1],
        "otlp_http": curl(lab, "--cacert", HOST_CA, "-H", "Content-Type: application/json", "--data-binary", "{}",
                          f"https://127.0.0.1:{listen_port(otlp['http']['endpoint'])}/v1/traces")[1],
        "health": curl(lab, "--cacert", HOST_CA,
                       f"https://127.0.0.1:{listen_port(config['extensions']['healthcheckv2']['http']['endpoint'])}/status")[1],
    }
    FIGURES["jaeger"] = {"no_password": found, "authentication": "none at 2.12.0 (no basicauth extension)"}
    assert found == {"query_http": "200", "otlp_http": "200", "health": "200"}, found
    assert config_file.mode == 0o640 and (config_file.user, config_file.group) == ("root", "jaeger")


def test_victorialogs_needs_the_password(lab):
    """-httpAuth.* guards every HTTP path but /health; the password is read from a file, never a flag."""
    password = password_of("victorialogs")
    found = {"metrics": http_statuses(lab, "https://127.0.0.1:9428/metrics", password),
             "query": http_statuses(lab, "https://127.0.0.1:9428/select/logsql/query", password,
                                    "--data-urlencode", "query=*", "--data-urlencode", "limit=1"),
             "health_no_password": curl(lab, "--cacert", HOST_CA, "https://127.0.0.1:9428/health")[1]}
    FIGURES["victorialogs"] = found
    for name in ("metrics", "query"):
        assert found[name] == {"no_password": "401", "wrong_password": "401", "password": "200"}, (name, found)
    assert found["health_no_password"] == "200", found
    password_file = lab.file("/etc/victorialogs/http-auth-password")
    assert password_file.content_string.strip() == password
    assert (password_file.user, password_file.group, password_file.mode) == ("root", "victorialogs", 0o640)
    assert password not in lab.file("/etc/victorialogs/flags.env").content_string
    pid = lab.check_output("systemctl show -p MainPID --value victorialogs")
    assert password not in lab.check_output(f"tr '\\0' ' ' < /proc/{pid}/cmdline")


def send_one_trace(address: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([telemetrygen(), "traces", "--traces", "1", "--otlp-endpoint", f"{address}:4317", *args],
                          capture_output=True, text=True, timeout=60, check=False)


def test_grpc_export_from_the_network(lab, token):
    address = lab.check_output("hostname -I").split()[0]
    plain = send_one_trace(address, "--otlp-insecure")
    no_token = send_one_trace(address, "--ca-cert", str(CA_DIR / "ca.crt"))
    with_token = send_one_trace(address, "--ca-cert", str(CA_DIR / "ca.crt"), "--otlp-header",
                                f'Authorization="Bearer {token}"')
    # telemetrygen exits 0 when an export fails: its log says so.
    assert "traces export:" in plain.stderr and "rpc error" in plain.stderr, plain.stderr[-1500:]
    assert "code = Unauthenticated" in no_token.stderr, no_token.stderr[-1500:]
    assert with_token.returncode == 0 and "traces export:" not in with_token.stderr, with_token.stderr[-1500:]
    FIGURES["telemetrygen_grpc"] = {"plain": "failed", "tls_no_token": "Unauthenticated", "tls_token": "exported"}


def test_site_at_vvv_prints_no_secret(lab, token):
    started = time.monotonic()
    run = subprocess.run(["ansible-playbook", "-i", INVENTORY, "observability.lgtm.site", "-vvv"],
                         capture_output=True, text=True, timeout=1200, check=False)
    output = run.stdout + run.stderr
    assert run.returncode == 0, "\n".join(output.splitlines()[-80:])
    leaks, keys_checked = leaked_secrets(output, CA_DIR, token, "collector",
                                         [password_of(backend) for backend in PASSWORD_FILES])
    FIGURES["site_vvv"] = {"lines_scanned": len(output.splitlines()), "seconds": round(time.monotonic() - started, 1),
                           "hits": {name: len(lines) for name, lines in leaks.items()},
                           "private_keys_checked": keys_checked}
    assert not any(leaks.values()), json.dumps(leaks, indent=1)[:4000]
    # The secrets did reach the host: the collector's config holds the token.
    assert token in lab.file("/etc/otelcol/config.yaml").content_string


# `orders` is the imported fixture.
def test_figures(orders):  # noqa: F811 # pylint: disable=redefined-outer-name
    figures = figures_of(orders, "jaeger")
    record_figures(figures)
    tls_figures = {**FIGURES, "request_to_complete_trace_s_median": figures["request_to_complete_trace_s"]["median"],
                   "converge_s": figures["converge_s"], "idempotent_rerun_s": figures["idempotent_rerun_s"]}
    (EPHEMERAL / "figures-tls.json").write_text(json.dumps(tls_figures, indent=2) + "\n")
    print("\nFIGURES " + json.dumps(tls_figures))
    assert figures["request_to_complete_trace_s"]["median"] is not None
