"""DNS traffic in the controller's network namespace, seen on every interface.

A small AF_PACKET sniffer (root, Linux): every frame on every interface of the
namespace it runs in, in and out, for a bounded time. Frames to or from port
53 (UDP, or TCP with its length prefix) are decoded as DNS messages and their
question names kept. This is where a lab name would have to pass to leave the
machine: queries the lab hosts send to Docker's embedded DNS (127.0.0.11) stay
in each host's own namespace and are never seen here; a query Docker forwards,
or one the controller's own resolver sends, crosses a veth, a bridge or eth0
(or lo) of this namespace.

    python dns_capture.py SECONDS [NAME...]   # print what was seen, JSON

Used by tests/molecule/stack/test_lab_dns.py.
"""
from __future__ import annotations

import json
import select
import socket
import struct
import sys
import threading
import time
from dataclasses import dataclass, field

ETH_P_ALL = 0x0003
DNS_PORT = 53


@dataclass
class Sighting:
    interface: str
    protocol: str          # udp or tcp
    source: str
    destination: str
    names: list[str]       # the question names, lower case, without the root dot


def _qnames(message: bytes) -> list[str]:
    """The question names of a DNS message (compression is not used in questions)."""
    if len(message) < 12:
        return []
    count = struct.unpack("!H", message[4:6])[0]
    names, offset = [], 12
    for _question in range(count):
        labels = []
        while offset < len(message):
            length = message[offset]
            offset += 1
            if length == 0 or length >= 0xC0:
                offset += 1 if length >= 0xC0 else 0
                break
            labels.append(message[offset:offset + length].decode("ascii", "replace").lower())
            offset += length
        names.append(".".join(labels))
        offset += 4                     # qtype, qclass
    return names


def parse_frame(frame: bytes, interface: str) -> Sighting | None:
    """A DNS message to or from port 53 in an Ethernet frame, else None."""
    if len(frame) < 14:
        return None
    ethertype, offset = struct.unpack("!H", frame[12:14])[0], 14
    if ethertype == 0x8100:                                   # one VLAN tag
        ethertype, offset = struct.unpack("!H", frame[16:18])[0], 18
    if ethertype == 0x0800:
        header = (frame[offset] & 0x0F) * 4
        proto = frame[offset + 9]
        source, destination = (socket.inet_ntop(socket.AF_INET, frame[offset + 12:offset + 16]),
                               socket.inet_ntop(socket.AF_INET, frame[offset + 16:offset + 20]))
        payload = frame[offset + header:]
    elif ethertype == 0x86DD:
        proto = frame[offset + 6]
        source, destination = (socket.inet_ntop(socket.AF_INET6, frame[offset + 8:offset + 24]),
                               socket.inet_ntop(socket.AF_INET6, frame[offset + 24:offset + 40]))
        payload = frame[offset + 40:]
    else:
        return None
    if proto == 17 and len(payload) >= 8:
        ports, message, name = struct.unpack("!HH", payload[:4]), payload[8:], "udp"
    elif proto == 6 and len(payload) >= 20:
        ports, name = struct.unpack("!HH", payload[:4]), "tcp"
        message = payload[(payload[12] >> 4) * 4:][2:]       # past the TCP header and DNS' length prefix
    else:
        return None
    if DNS_PORT not in ports or not message:
        return None
    return Sighting(interface, name, f"{source}:{ports[0]}", f"{destination}:{ports[1]}", _qnames(message))


def _holds(labels: list[str], wanted: list[str]) -> bool:
    return any(labels[i:i + len(wanted)] == wanted for i in range(len(labels) - len(wanted) + 1))


@dataclass
class Capture:
    """Capture DNS for at most `seconds` (started with start(), ended by stop() or the bound)."""
    seconds: float
    sightings: list[Sighting] = field(default_factory=list)
    frames: int = 0
    echo: bool = False     # print each sighting as it comes (the command line)
    interfaces: set[str] = field(default_factory=set)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _ready: threading.Event = field(default_factory=threading.Event)

    def start(self) -> "Capture":
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the DNS capture did not start")
        return self

    def _run(self) -> None:
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        # Room for bursts (orders, scrapes, other scenarios) while this thread parses.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 23)
        try:
            self._ready.set()
            deadline = time.monotonic() + self.seconds
            while not self._stop.is_set() and time.monotonic() < deadline:
                if not select.select([sock], [], [], 0.2)[0]:
                    continue
                frame, address = sock.recvfrom(65535)
                self.frames += 1
                self.interfaces.add(address[0])
                sighting = parse_frame(frame, address[0])
                if sighting:
                    self.sightings.append(sighting)
                    if self.echo:
                        print(json.dumps(vars(sighting)), flush=True)
        finally:
            sock.close()

    def stop(self) -> "Capture":
        self._stop.set()
        return self.wait(15)

    def wait(self, seconds: float | None = None) -> "Capture":
        if self._thread:
            self._thread.join(seconds)
        return self

    def carrying(self, name: str) -> list[Sighting]:
        """Sightings of a query whose name holds `name` as whole labels: the name itself, with a
        search domain after it, or under a prefix such as gRPC's `_grpc_config.`."""
        wanted = name.lower().rstrip(".").split(".")
        return [s for s in self.sightings if any(_holds(q.split("."), wanted) for q in s.names)]

    def from_addresses(self, addresses: set[str]) -> list[Sighting]:
        """Sightings of queries sent from one of `addresses` (to port 53)."""
        return [s for s in self.sightings
                if s.source.rsplit(":", 1)[0] in addresses and s.destination.endswith(f":{DNS_PORT}")]

    def summary(self) -> dict[str, object]:
        return {"frames": self.frames, "dns_packets": len(self.sightings), "interfaces": sorted(self.interfaces),
                "names": sorted({q for s in self.sightings for q in s.names})}


def main(argv: list[str]) -> int:
    capture = Capture(float(argv[1]), echo=True).start()
    capture.wait()          # to the bound
    print(json.dumps({**capture.summary(),
                      "carrying": {name: len(capture.carrying(name)) for name in argv[2:]},
                      "sightings": [vars(s) for s in capture.sightings]}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
