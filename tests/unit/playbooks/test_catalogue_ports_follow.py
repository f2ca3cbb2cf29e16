"""A default port is changed in one place: the stack catalogue.

A copy of the collection with three ports moved in
plugins/module_utils/stack_catalogue.py (Prometheus' HTTP, Mimir's HTTP,
Tempo's HTTP) is rendered by lab/render_configs.py for three scenarios'
inventories, through site.yml's own plays and roles: the rendered collector
configs, the wiring facts, Grafana's data sources, the backends' own configs
and the Kubernetes objects all carry the moved ports, and none the old ones.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest

REPO = Path(__file__).resolve().parents[3]
CATALOGUE = Path("plugins") / "module_utils" / "stack_catalogue.py"
# (catalogue line as written, moved line, old port, new port)
MOVES = [
    ('ports={"http": Port(9090, "prometheus_listen_address")}', 'ports={"http": Port(19090, "prometheus_listen_address")}',
     9090, 19090),
    ('"http": Port(9009, "mimir_http_listen_port", form="port")', '"http": Port(19009, "mimir_http_listen_port", form="port")',
     9009, 19009),
    ('"http": Port(3200, "tempo_http_listen_port", form="port")', '"http": Port(13200, "tempo_http_listen_port", form="port")',
     3200, 13200),
]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The copy's renders of default, kubernetes and default_lgtm."""
    top = tmp_path_factory.mktemp("catalogue")
    copy = top / "ansible_collections" / "observability" / "lgtm"
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO, capture_output=True,
                           text=True, check=True).stdout.split()
    for name in files:
        source = REPO / name
        if source.is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            (copy / name).write_bytes(source.read_bytes())
    catalogue = (copy / CATALOGUE).read_text()
    for line, moved, _old, _new in MOVES:
        assert catalogue.count(line) == 1, f"the catalogue no longer writes {line!r}: update this test"
        catalogue = catalogue.replace(line, moved)
    (copy / CATALOGUE).write_text(catalogue)
    out = top / "rendered"
    env = {**os.environ, "ANSIBLE_COLLECTIONS_PATH": str(top)}
    result = subprocess.run([sys.executable, str(copy / "lab" / "render_configs.py"), str(out), "default", "kubernetes",
                             "default_lgtm", "--ephemeral", str(top / "ephemeral")],
                            capture_output=True, text=True, check=False, env=env, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return out


def dumps(folder: Path) -> Dict[str, Any]:
    return {path.name: json.loads(path.read_text()) for path in sorted(folder.glob("*.json"))}


def one(found: Dict[str, Any], role: str) -> Dict[str, Any]:
    """The first play's dump of a role (on Kubernetes the collector's first is the gateway)."""
    return found[next(name for name in found if f"-{role}-" in name)]


def config_text(dump: Dict[str, Any]) -> str:
    return "\n".join(str(entry["content"]) for entry in dump["component"]["config_files"])


def walk(value: Any) -> Iterator[Any]:
    yield value
    if isinstance(value, dict):
        for item in value.values():
            yield from walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from walk(item)


def object_ports(objects: List[Dict[str, Any]]) -> List[int]:
    """Every Service port and container port of a component's objects."""
    return [node[key] for node in walk(objects) if isinstance(node, dict)
            for key in ("port", "containerPort") if isinstance(node.get(key), int)]


def test_prometheus_port_follows_on_hosts(rendered: Path) -> None:
    found = dumps(rendered / "default" / "lgtm-aio")
    wiring = found["wiring.json"]
    assert wiring["metrics"]["port"] == 19090 and wiring["metrics"]["http"] == "http://lgtm-aio:19090"
    collector = config_text(one(found, "otel_collector"))
    assert "http://lgtm-aio:19090/api/v1/otlp" in collector and ":9090" not in collector
    prometheus = one(found, "prometheus")["component"]
    assert "0.0.0.0:19090" in json.dumps(prometheus) and ":9090" not in json.dumps(prometheus)


def test_prometheus_port_follows_on_kubernetes(rendered: Path) -> None:
    found = dumps(rendered / "kubernetes" / "lab-cluster")
    objects = one(found, "prometheus")["manifests"]["objects"]
    ports = object_ports(objects)
    assert 19090 in ports and 9090 not in ports, ports
    gateway = config_text(one(found, "otel_collector"))
    assert "prometheus.observability.svc:19090" in gateway and ":9090" not in gateway


def test_mimir_and_tempo_ports_follow_into_grafana_and_their_configs(rendered: Path) -> None:
    found = dumps(rendered / "default_lgtm" / "lgtm-grafana-aio")
    [datasources] = [entry["content"] for entry in one(found, "grafana")["component"]["config_files"]
                     if entry["dest"].endswith("/datasources/lgtm.yml")]
    assert "http://lgtm-grafana-aio:19009/prometheus" in datasources
    assert "http://lgtm-grafana-aio:13200" in datasources
    assert ":9009" not in datasources and ":3200" not in datasources
    assert "http_listen_port: 19009" in config_text(one(found, "mimir"))
    assert "http_listen_port: 13200" in config_text(one(found, "tempo"))
    collector = config_text(one(found, "otel_collector"))
    assert "http://lgtm-grafana-aio:19009/otlp" in collector and ":9009" not in collector
