"""lab/config_schema.py: amendments applied from upstream's statements, kept across a
regeneration, and the collector's JSON Schema files read into key paths (Tempo's receivers)."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "lab"))
import config_schema  # noqa: E402  (lab/ is not a package)

SOURCE = "upstream's changelog, section 9.9.0: 'Remove the flag -a.b' (#1)"


def document(**keys: str) -> dict:
    return {"component": "mimir", "version": "9.9.9", "keys": dict(keys)}


def test_remove_drops_the_key_and_everything_below_it_and_records_the_source():
    doc = document(a="map", **{"a.b": "map", "a.b.c": "int", "a.bc": "int", "a.b[]": "map"})
    out = config_schema.amend(doc, "remove", "a.b", SOURCE)
    assert out["keys"] == {"a": "map", "a.bc": "int"}
    assert out["amendments"] == [{"change": "remove", "path": "a.b", "source": SOURCE}]
    assert doc["keys"]["a.b.c"] == "int", "the input is not changed"


def test_add_and_enum_are_recorded_and_a_repeated_change_replaces_the_earlier_one():
    doc = config_schema.amend(document(a="map", **{"a.level": "string"}), "add", "a.new", SOURCE, "duration")
    doc = config_schema.amend(doc, "enum", "*.level", SOURCE, ["debug", "info"])
    doc = config_schema.amend(doc, "enum", "*.level", SOURCE, ["debug", "info", "warn"])
    assert doc["keys"]["a.new"] == "duration"
    assert [entry["change"] for entry in doc["amendments"]] == ["add", "enum"]
    assert doc["amendments"][-1]["values"] == ["debug", "info", "warn"]


@pytest.mark.parametrize(("change", "path", "value", "source", "message"), [
    ("remove", "a.gone", None, SOURCE, "remove a.gone: no such key in the mimir schema"),
    ("add", "b.x", "int", SOURCE, "add b.x: its parent b is not a map of the schema"),
    ("add", "a.x", "integer", SOURCE, "add a.x: unknown type 'integer'"),
    ("enum", "*.nothing", ["x"], SOURCE, "enum *.nothing: matches no key of the mimir schema"),
    ("enum", "a.level", [], SOURCE, "enum a.level: no values"),
    ("remove", "a.level", None, " ", "remove a.level: --source must name where upstream states it"),
    ("rename", "a.level", None, SOURCE, "unknown change 'rename'"),
])
def test_a_change_that_does_not_fit_is_refused_naming_it(change, path, value, source, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        config_schema.amend(document(a="map", **{"a.level": "string"}), change, path, source, value)


def test_the_command_line_amends_the_file_and_keeps_its_header_comment(tmp_path: Path):
    schema = tmp_path / "mimir.yml"
    schema.write_text("# Derived data, regenerate.\n" + yaml.safe_dump(document(a="map", **{"a.b": "int"})))
    assert config_schema.main(["amend", "mimir", "--schema", str(schema), "--remove", "a.b", "--add", "a.c=bool",
                               "--enum", "a.c=true,false", "--source", SOURCE]) == 0
    text = schema.read_text()
    assert text.startswith("# Derived data, regenerate.\n")
    written = yaml.safe_load(text)
    assert written["keys"] == {"a": "map", "a.c": "bool"}
    assert [entry["change"] for entry in written["amendments"]] == ["remove", "add", "enum"]
    with pytest.raises(SystemExit, match="remove a.b: no such key"):
        config_schema.main(["amend", "mimir", "--schema", str(schema), "--remove", "a.b", "--source", SOURCE])


def regenerate(tmp_path: Path, out: Path, version: str) -> None:
    reference = tmp_path / "descriptor.json"
    reference.write_text('{"blockEntries": [{"kind": "field", "name": "a", "fieldType": "int"},'
                         ' {"kind": "field", "name": "b", "fieldType": "string"}]}')
    config_schema.main(["mimir", str(reference), "--version", version, "--repository", "grafana/mimir",
                        "--ref", "main", "--commit", "0" * 40, "--output", str(out)])


def test_a_regeneration_of_the_same_version_applies_its_amendments_again(tmp_path: Path):
    out = tmp_path / "mimir.yml"
    regenerate(tmp_path, out, "9.9.9")
    config_schema.main(["amend", "mimir", "--schema", str(out), "--enum", "b=x,y", "--source", SOURCE])
    regenerate(tmp_path, out, "9.9.9")
    assert yaml.safe_load(out.read_text())["amendments"][0]["values"] == ["x", "y"]
    # A new version's reference starts clean.
    regenerate(tmp_path, out, "10.0.0")
    assert "amendments" not in yaml.safe_load(out.read_text())
    # One that no longer applies (its key gone from the reference) stops the run.
    config_schema.main(["amend", "mimir", "--schema", str(out), "--remove", "a", "--source", SOURCE])
    out.write_text(out.read_text().replace("  b: string\n", "  a: int\n  b: string\n"))
    (tmp_path / "descriptor.json").unlink()
    reference = tmp_path / "descriptor.json"
    reference.write_text('{"blockEntries": [{"kind": "field", "name": "b", "fieldType": "string"}]}')
    with pytest.raises(SystemExit, match="an amendment no longer applies.*remove a: no such key"):
        config_schema.main(["mimir", str(reference), "--version", "10.0.0", "--repository", "grafana/mimir",
                            "--ref", "main", "--commit", "0" * 40, "--output", str(out)])


def git_tree(tmp_path: Path, files: dict[str, str]) -> tuple[Path, str]:
    """A git directory holding `files` in one commit (the layout Tempo vendors the collector in)."""
    tree = tmp_path / "tree"
    for name, text in files.items():
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        (tree / name).write_text(text)
    for command in (["init", "-q"], ["add", "."], ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "x"]):
        subprocess.run(["git", *command], cwd=tree, check=True, capture_output=True)
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=tree, check=True, capture_output=True,
                            text=True).stdout.strip()
    return tree, commit


def test_collector_schemas_follow_references_across_packages_and_read_types(tmp_path: Path):
    vendor = config_schema.COLLECTOR_VENDOR + "/config"
    tree, commit = git_tree(tmp_path, {
        f"{vendor}/configgrpc/config.schema.yaml": yaml.safe_dump({"$defs": {"server_config": {
            "type": "object",
            "properties": {"tls": {"$ref": "/config/configtls.server_config"}, "max_recv_msg_size_mib": {"type": "integer"},
                           "headers": {"$ref": "/config/configopaque.map_list"},
                           "keepalive": {"$ref": "keepalive"}},
            "allOf": [{"$ref": "/config/confignet.addr_config"}]},
            "keepalive": {"type": "object", "properties": {"time": {"type": "string", "format": "duration"}}}}}),
        f"{vendor}/configtls/config.schema.yaml": yaml.safe_dump({"$defs": {
            "server_config": {"type": "object", "properties": {"client_ca_file": {"type": "string"}},
                              "allOf": [{"$ref": "config"}]},
            "config": {"type": "object", "properties": {"cert_file": {"type": "string"},
                                                        "cipher_suites": {"type": "array", "items": {"type": "string"}}}}}}),
        f"{vendor}/confignet/config.schema.yaml": yaml.safe_dump({"$defs": {"addr_config": {
            "type": "object", "properties": {"endpoint": {"type": "string"}}}}}),
    })
    schema: dict[str, str] = {}
    config_schema.CollectorSchemas(tree, commit).walk({"$ref": "/config/configgrpc.server_config"}, "", "grpc", schema)
    assert schema == {
        "grpc": "map", "grpc.tls": "map", "grpc.tls.client_ca_file": "string", "grpc.tls.cert_file": "string",
        "grpc.tls.cipher_suites": "list", "grpc.max_recv_msg_size_mib": "int", "grpc.headers": "any",
        "grpc.keepalive": "map", "grpc.keepalive.time": "duration", "grpc.endpoint": "string"}


def test_the_tempo_schema_closes_its_receivers_from_the_vendored_collector():
    """The committed schema: the receiver types Tempo's shim registers, OTLP's keys closed."""
    keys = yaml.safe_load((REPO / "tests/unit/roles/config_schemas/tempo.yml").read_text())["keys"]
    assert keys["distributor.receivers"] == "map"
    assert {key.split(".")[2] for key in keys if key.startswith("distributor.receivers.")} == {
        "jaeger", "kafka", "otlp", "zipkin"}
    assert keys["distributor.receivers.otlp.protocols.grpc.endpoint"] == "string"
    assert keys["distributor.receivers.otlp.protocols.http.traces_url_path"] == "string"
    assert keys["distributor.receivers.otlp.protocols.http.tls.key_file"] == "string"
