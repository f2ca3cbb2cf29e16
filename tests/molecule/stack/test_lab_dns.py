"""Lab names never leave the lab: proven while the stack runs (molecule/shared/create.yml).

For a bounded time the controller captures every DNS packet in its own network
namespace, on every interface (tests/molecule/dns_capture.py): a query Docker's
embedded DNS forwards, or one a lab host or the controller sends to the
machine's resolvers, crosses a veth, a bridge or eth0 there. Meanwhile:

- every lab host looks up every lab name, plain and with the trailing dot,
  through its own resolver (glibc: /etc/hosts, then DNS), and asks its DNS
  servers directly for each name's A, AAAA and TXT records and for TXT
  `_grpc_config.<name>` (what the stack's gRPC clients ask, and what Docker's
  embedded DNS forwards even for names it knows);
- every lab host looks up a lab-like name no lab host has;
- the collector is restarted and a traced order is followed to the traces
  backend, so the stack's own Go and gRPC resolvers look its names up afresh.

Every lab name must resolve to its Docker address from every lab host, the
unknown name must not resolve, and no captured DNS packet may carry a lab name
or come from a lab host. The control: a lab host sends a query for a control
name (under .invalid) to the controller's address on its network, port 53,
where nothing answers, so it never leaves the machine; the capture must see it.
"""
from __future__ import annotations

import json
import secrets
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

from dns_capture import Capture
from lgtm_stack import (backend_of, complete_trace, docker_addresses, group_host, group_hosts, place_order,
                        stack_access, traces_api, wait_for)

CAPTURE_BOUND_S = 120
# Run on each lab host with its python3: JSON of what it resolved and what its DNS servers answered.
PROBE = r"""
import json, random, socket, struct, sys
names, unknown, control = json.loads(sys.argv[1]), sys.argv[2], json.loads(sys.argv[3])

def resolve(name):
    try:
        return sorted({a[4][0] for a in socket.getaddrinfo(name, None) if a[0] == socket.AF_INET})
    except OSError as error:
        return "error: %s" % error

def ask(server, name, qtype, timeout=1.0):
    message = struct.pack("!HHHHHH", random.randrange(65536), 0x0100, 1, 0, 0, 0)
    message += b"".join(bytes([len(label)]) + label.encode() for label in name.rstrip(".").split("."))
    message += b"\0" + struct.pack("!HH", qtype, 1)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(timeout)
    try:
        sock.connect((server, 53))
        sock.send(message)
        answer = sock.recv(4096)
        return "rcode %d, %d answers" % (answer[3] & 15, struct.unpack("!H", answer[6:8])[0])
    except OSError as error:
        return type(error).__name__
    finally:
        sock.close()

servers = [line.split()[1] for line in open("/etc/resolv.conf") if line.startswith("nameserver")]
asked = {"%s %s %s" % (server, qtype, name): ask(server, name, number)
         for server in servers for bare in names
         for name, qtype, number in ((bare, "A", 1), (bare, "AAAA", 28), (bare, "TXT", 16),
                                     ("_grpc_config." + bare, "TXT", 16))}
if control:
    asked["control"] = ask(control["server"], control["name"], 1)
print(json.dumps({"servers": servers, "asked": asked, "unknown": resolve(unknown),
                  "resolved": {name: resolve(name) for bare in names for name in (bare, bare + ".")}}))
"""


def probe(host: str, names: list[str], unknown: str, control: dict[str, str] | None) -> dict:
    result = subprocess.run(["docker", "exec", host, "python3", "-c", PROBE, json.dumps(names), unknown,
                             json.dumps(control)], capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, f"probe on {host}: {result.stdout}{result.stderr}"
    return json.loads(result.stdout)


def restart_collector_and_follow_an_order() -> float:
    """Restart the collector (its resolvers start afresh), then follow one traced order; seconds it took."""
    started = time.monotonic()
    collector = group_host("otel_collector")
    collector.check_output("systemctl restart otelcol")
    assert wait_for(lambda: collector.run("curl -fsS http://127.0.0.1:13133/").rc == 0, seconds=60), \
        "the collector did not come back"
    traces = traces_api(backend_of("traces"), stack_access())
    trace_id = place_order(group_host("demo"), f"lab-dns-{int(time.time())}")
    assert wait_for(lambda: complete_trace(traces, trace_id), seconds=60), \
        traces.explain(f"trace {trace_id} after the collector's restart", None)
    return round(time.monotonic() - started, 1)


def test_no_lab_name_leaves_the_lab():
    hosts = list(group_hosts("all"))
    addresses = {host: docker_addresses(host) for host in hosts}
    lab_addresses = set().union(*(found for found, _gateway in addresses.values()))
    unknown = f"lgtm-nosuch-{secrets.token_hex(4)}.invalid"
    control = {"name": f"lgtm-dns-control-{secrets.token_hex(4)}.invalid", "server": addresses[hosts[0]][1]}

    capture = Capture(CAPTURE_BOUND_S).start()
    try:
        with ThreadPoolExecutor(len(hosts)) as pool:
            probes = dict(zip(hosts, pool.map(
                lambda host: probe(host, hosts, unknown, control if host == hosts[0] else None), hosts)))
        order_s = restart_collector_and_follow_an_order()
        time.sleep(2)   # so that a query sent last still crosses the capture
    finally:
        capture.stop()

    sent = [vars(s) for s in capture.from_addresses(lab_addresses) if control["name"] not in s.names]
    leaks = {name: [vars(s) for s in capture.carrying(name)] for name in [*hosts, unknown]}
    seen = capture.summary()
    print("\nFIGURES-DNS " + json.dumps({
        "capture_frames": seen["frames"], "dns_packets": seen["dns_packets"], "interfaces": len(seen["interfaces"]),
        "lab_hosts": len(hosts), "lookups_per_host": 2 * len(hosts) + 1,
        "dns_queries_per_host": 4 * len(hosts) * len(probes[hosts[0]]["servers"]),
        "restart_and_order_s": order_s, "control_packets": len(capture.carrying(control["name"])),
        "lab_name_packets": sum(map(len, leaks.values())), "from_lab_hosts": len(sent)}))

    # The control: the capture sees a lab host's query where it crosses the controller's namespace.
    assert capture.carrying(control["name"]), \
        f"the control query was not captured (answer: {probes[hosts[0]]['asked']['control']}); seen: {seen}"
    for host, found in probes.items():
        for name, resolved in found["resolved"].items():
            assert isinstance(resolved, list) and set(resolved) <= addresses[name.rstrip(".")][0] and resolved, \
                f"{host} resolved {name} to {resolved}, Docker gives {addresses[name.rstrip('.')][0]}"
        assert not isinstance(found["unknown"], list), f"{host} resolved {unknown}: {found['unknown']}"
    assert not any(leaks.values()), f"DNS packets carrying lab names: {leaks}"
    assert not sent, f"DNS queries from lab hosts seen in the controller's namespace: {sent}"
