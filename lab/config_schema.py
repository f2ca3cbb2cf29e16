"""Derive a configuration schema (key paths and value types) from an upstream reference.

Grafana, Loki, Tempo and Mimir cannot run in the lab, so the unit tests check the
configuration each role renders against the schema of the pinned release. This
script turns one upstream reference file into our own data format, never a copy
of it: tests/unit/roles/config_schemas/<component>.yml maps each key path to one
of the types below.

    python3 lab/config_schema.py tempo /tmp/manifest.md --version 3.1.0 \
        --repository grafana/tempo --ref v3.1.0 --commit <sha> [--source-tree DIR]

Inputs, by component (the path inside the upstream repository is recorded):
  mimir    cmd/mimir/config-descriptor.json (JSON tree of blocks and fields)
  tempo    docs/sources/tempo/configuration/manifest.md (YAML of all defaults)
  loki     docs/sources/shared/configuration.md (reference with typed placeholders)
  grafana  conf/defaults.ini (sections and keys with their defaults)

Types: map (closed: only listed children), open (any keys, any values), list
(items under `<path>[]` when known, else anything), string, int, float, bool,
duration, any. A path segment `*` stands for any key of a map.

Where no copy at the pinned tag was reachable, a schema is amended from upstream's
own statements of what changed after the snapshot, or of a key's allowed values;
each amendment names its source and is recorded in the schema's `amendments`:

    python3 lab/config_schema.py amend mimir --remove frontend.use_active_series_decoder \
        --source "grafana/mimir CHANGELOG.md, 3.1.0: ... #15091 (commit <sha>)"
    python3 lab/config_schema.py amend tempo --enum 'server.log_level=debug,info,warn,error' --source ...

--remove drops a key path and everything below it, --add PATH=TYPE adds one, --enum
PATTERN=V1,V2 gives the values a key takes (PATTERN may use `*`, as in
`*.kvstore.store`, and must match keys of the schema).
"""
from __future__ import annotations

import argparse
import configparser
import fnmatch
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

import yaml

REPO = Path(__file__).resolve().parents[1]
SCHEMA_DIR = REPO / "tests" / "unit" / "roles" / "config_schemas"
REFERENCE_PATHS = {
    "mimir": "cmd/mimir/config-descriptor.json",
    "tempo": "docs/sources/tempo/configuration/manifest.md",
    "loki": "docs/sources/shared/configuration.md",
    "grafana": "conf/defaults.ini",
}
SCALARS = ("string", "int", "float", "bool", "duration", "any")
Schema = dict[str, str]

# A Go duration as yaml renders it (1h0m0s, 2562047h47m16.854775807s, 100ms).
GO_DURATION = re.compile(r"^-?(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$")


def join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


# --------------------------------------------------------------------- mimir
MIMIR_FIELD_TYPES = {
    "string": "string",
    "int": "int",
    "float": "float",
    "boolean": "bool",
    "duration": "duration",
    "url": "string",
    "list of strings": "list",
    "list of durations": "list",
    "relabel_config...": "list",
    "slice": "list",
}


def mimir_type(field: dict) -> str:
    kind = field.get("fieldType", "")
    if kind in MIMIR_FIELD_TYPES:
        return MIMIR_FIELD_TYPES[kind]
    # "map of string to int", "map of tracker name (string) to matcher (string)": free keys.
    if kind.startswith("map of"):
        return "open"
    raise ValueError(f"unknown Mimir fieldType {kind!r} at {field.get('name')}")


def mimir_walk(node: dict, path: str, schema: Schema) -> None:
    for entry in node.get("blockEntries") or []:
        child = join(path, entry["name"])
        if entry["kind"] == "block":
            # A block without entries is a secret (flagext.Secret): a string in YAML.
            if not entry.get("blockEntries"):
                schema[child] = "string"
                continue
            schema[child] = "map"
            mimir_walk(entry, child, schema)
            continue
        schema[child] = mimir_type(entry)
        element = entry.get("fieldElement")
        if element:
            # A list of blocks (limits.blocked_queries): its items are described too.
            schema[child + "[]"] = "map"
            mimir_walk(element, child + "[]", schema)


def parse_mimir(text: str, _tree: Path | None) -> Schema:
    schema: Schema = {}
    mimir_walk(json.loads(text), "", schema)
    return schema


# --------------------------------------------------------------------- tempo
def yaml_block(text: str) -> str:
    """The first ```yaml fenced block of a markdown document."""
    match = re.search(r"^```yaml\n(.*?)^```", text, re.S | re.M)
    if not match:
        raise ValueError("no ```yaml block in the reference")
    return match.group(1)


def value_type(value: Any) -> str:
    """The type a default value shows; empty maps are open (receivers: {})."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "duration" if GO_DURATION.match(value) and not value.isdigit() else "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "map" if value else "open"
    return "any"  # null: a pointer to a block (memcached, redis) with no default


def values_walk(value: Any, path: str, schema: Schema) -> None:
    schema[path] = value_type(value)
    if isinstance(value, dict):
        for key, child in value.items():
            values_walk(child, join(path, str(key)), schema)
    elif isinstance(value, list) and value and all(isinstance(i, dict) for i in value):
        # Items of a list of blocks: the union of the keys the defaults show.
        schema[path + "[]"] = "map"
        for item in value:
            for key, child in item.items():
                values_walk(child, join(path + "[]", str(key)), schema)


# The manifest is yaml.Marshal of the defaults, so `omitempty` fields whose
# default is empty are missing from it. They are read from the Go structs at
# the same commit: (mount path, file, struct).
TEMPO_OMITEMPTY_STRUCTS = [
    ("", "cmd/tempo/app/config.go", "Config"),
    ("metrics_generator", "modules/generator/config.go", "Config"),
    ("metrics_generator.registry", "modules/generator/registry/config.go", "Config"),
    ("metrics_generator.storage", "modules/generator/storage/config.go", "Config"),
    ("overrides.defaults", "modules/overrides/config.go", "Overrides"),
]
GO_FIELD = re.compile(r'^\s*(\w+)\s+([^\s`]+)\s+`[^`]*yaml:"([^",]*)[^"]*"')
GO_SCALARS = {
    "bool": "bool", "string": "string", "float64": "float", "float32": "float",
    "time.Duration": "duration", "model.Duration": "duration",
}


def go_struct_body(source: str, struct: str) -> str:
    """The lines between `type <struct> struct {` and its closing brace."""
    body = re.search(rf"^type {struct} struct {{\n(.*?)^}}", source, re.S | re.M)
    if not body:
        raise ValueError(f"struct {struct} not found")
    return body.group(1)


def go_struct_fields(source: str, struct: str) -> list[tuple[str, str]]:
    """(yaml name, Go type) of one struct's tagged fields; inline fields are skipped."""
    fields = []
    for line in go_struct_body(source, struct).splitlines():
        match = GO_FIELD.match(line)
        if match and match.group(3) not in ("", "-"):
            fields.append((match.group(3), match.group(2)))
    return fields


def go_type(go: str) -> str:
    go = go.lstrip("*")
    if go.startswith("[]"):
        return "list"
    if go.startswith("map["):
        return "open"
    if go in GO_SCALARS:
        return GO_SCALARS[go]
    if re.fullmatch(r"u?int(8|16|32|64)?", go):
        return "int"
    return "any"  # a named type of another package: its shape is not read here


def go_struct_walk(source: str, struct: str, path: str, schema: Schema) -> None:
    """Add the fields of a struct (and of its structs in the same file) the manifest lacks."""
    for name, go in go_struct_fields(source, struct):
        child = join(path, name)
        local = go.lstrip("*")
        if re.search(rf"^type {re.escape(local)} struct {{", source, re.M):
            schema.setdefault(child, "map")
            go_struct_walk(source, local, child, schema)
        else:
            schema.setdefault(child, go_type(go))


def git_show(tree: Path, commit: str, path: str) -> str:
    return subprocess.run(["git", "-C", str(tree), "show", f"{commit}:{path}"],
                          check=True, capture_output=True, text=True).stdout


# Tempo's distributor hands `receivers` to the OpenTelemetry Collector's own config
# loader (otelcol.NewConfigProvider in the shim), which refuses unknown keys and types,
# so the branch is closed: the receiver types the shim registers, and the OTLP receiver's
# keys from the collector's config.schema.yaml files Tempo vendors at the same commit.
TEMPO_RECEIVER_SHIM = "modules/distributor/receiver/shim.go"
TEMPO_RECEIVERS = "distributor.receivers"
COLLECTOR_VENDOR = "vendor/go.opentelemetry.io/collector"
MAPSTRUCTURE_FIELD = re.compile(r'^\s*\w+\s+\S+\s+`mapstructure:"(\w+)[",]')


class CollectorSchemas:
    """Reads the collector's config.schema.yaml files (JSON Schema in YAML) of one commit."""

    def __init__(self, tree: Path, commit: str) -> None:
        self.tree, self.commit = tree, commit
        self.cache: dict[str, dict] = {}

    def definition(self, package: str, name: str) -> dict:
        if package not in self.cache:
            text = git_show(self.tree, self.commit, f"{COLLECTOR_VENDOR}/config/{package}/config.schema.yaml")
            self.cache[package] = yaml.safe_load(text)["$defs"]
        return self.cache[package][name]

    def walk(self, node: dict, package: str, path: str, schema: Schema, seen: tuple = ()) -> None:
        """Add the key paths a schema node describes at `path`."""
        ref = node.get("$ref")
        if ref is not None:
            # "/config/<package>.<definition>" names another package's file; a bare name this one's.
            target_package, name = ref.removeprefix("/config/").rsplit(".", 1) if ref.startswith("/config/") \
                else (package, ref)
            if (target_package, name) == ("configopaque", "map_list"):
                # Headers: a list of name/value pairs, or a map (its unmarshaller takes both).
                schema[path] = "any"
                return
            if (target_package, name) in seen:
                schema[path] = "any"
                return
            self.walk(self.definition(target_package, name), target_package, path, schema,
                      seen + ((target_package, name),))
            return
        kind = node.get("type")
        if kind == "object" or "properties" in node or "allOf" in node:
            schema[path] = "map" if node.get("properties") or node.get("allOf") else "open"
            for key, child in (node.get("properties") or {}).items():
                self.walk(child, package, join(path, key), schema, seen)
            for part in node.get("allOf") or []:
                self.walk(part, package, path, schema, seen)
        elif kind == "array":
            schema[path] = "list"
            items = node.get("items") or {}
            if items.get("$ref") or items.get("type") == "object":
                self.walk(items, package, path + "[]", schema, seen)
        elif kind == "string":
            schema[path] = "duration" if node.get("format") == "duration" else "string"
        else:
            schema[path] = {"integer": "int", "number": "float", "boolean": "bool"}.get(kind, "any")


def tempo_receivers(tree: Path, commit: str, schema: Schema) -> None:
    """Close `distributor.receivers`: the types the shim registers (their own configs left
    open, except OTLP's), and the OTLP receiver's gRPC and HTTP server keys."""
    shim = git_show(tree, commit, TEMPO_RECEIVER_SHIM)
    kinds = re.findall(r"(\w+)receiver\.NewFactory\(\)", shim)
    if "otlp" not in kinds:
        raise ValueError(f"{TEMPO_RECEIVER_SHIM}: no otlpreceiver factory")
    for key in [key for key in schema if key.startswith(TEMPO_RECEIVERS + ".")]:
        del schema[key]
    schema[TEMPO_RECEIVERS] = "map"
    for kind in kinds:
        schema[join(TEMPO_RECEIVERS, kind)] = "open"
    otlp = join(TEMPO_RECEIVERS, "otlp")
    schema[otlp] = schema[otlp + ".protocols"] = "map"
    collector = CollectorSchemas(tree, commit)
    collector.walk({"$ref": "/config/configgrpc.server_config"}, "", otlp + ".protocols.grpc", schema)
    collector.walk({"$ref": "/config/confighttp.server_config"}, "", otlp + ".protocols.http", schema)
    # The OTLP receiver's HTTPConfig: the server's keys (squashed) and its URL paths.
    source = git_show(tree, commit, f"{COLLECTOR_VENDOR}/receiver/otlpreceiver/config.go")
    for line in go_struct_body(source, "HTTPConfig").splitlines():
        match = MAPSTRUCTURE_FIELD.match(line)
        if match:  # traces_url_path...: a URL path (a text the receiver cleans up)
            schema[join(otlp + ".protocols.http", match.group(1))] = "string"


def parse_tempo(text: str, tree: Path | None, commit: str = "") -> Schema:
    schema: Schema = {}
    for key, value in yaml.safe_load(yaml_block(text)).items():
        values_walk(value, key, schema)
    if tree is not None:
        for mount, file, struct in TEMPO_OMITEMPTY_STRUCTS:
            go_struct_walk(git_show(tree, commit, file), struct, mount, schema)
        tempo_receivers(tree, commit, schema)
    return schema


# ---------------------------------------------------------------------- loki
LOKI_SCALARS = {
    "string": "string", "int": "int", "float": "float", "boolean": "bool",
    "duration": "duration", "url": "string", "time": "string", "daytime": "string",
    "Regexp": "string", "Time": "string", "secret": "string", "filename": "string",
}
LOKI_ENTRY = re.compile(r"^(?P<indent> *)\[?(?P<key>[A-Za-z0-9_]+): <(?P<type>[^>]*)>")
LOKI_NESTED = re.compile(r"^(?P<indent> *)(?P<key>[A-Za-z0-9_]+):\s*$")
LOKI_LIST_ITEM = re.compile(r"^(?P<indent> *)- \[?(?P<key>[A-Za-z0-9_]+): <(?P<type>[^>]*)>")
# A named block without a key: its fields are inline in the enclosing block
# (yaml ",inline" in Go, e.g. the TLS settings of every gRPC client).
LOKI_INLINE = re.compile(r"^(?P<indent> *)\[<(?P<block>[A-Za-z0-9_]+)>\]\s*$")


def loki_blocks(text: str) -> dict[str, list[str]]:
    """The yaml body of each `### name` section: the root one and the named blocks."""
    blocks: dict[str, list[str]] = {}
    for match in re.finditer(r"^### (.+?)\n(.*?)(?=^### |\Z)", text, re.S | re.M):
        title, body = match.group(1).strip(), match.group(2)
        # A section may open with an example; the reference is its last yaml block.
        code = re.findall(r"^```yaml\n(.*?)^```", body, re.S | re.M)
        if not code:
            continue
        name = "" if title.startswith("Supported contents") else title
        blocks[name] = code[-1].splitlines()
    return blocks


def loki_type(placeholder: str, blocks: dict[str, list[str]]) -> tuple[str, str | None]:
    """(our type, the named block its children come from, if any)."""
    placeholder = placeholder.strip()
    if placeholder in LOKI_SCALARS:
        return LOKI_SCALARS[placeholder], None
    if placeholder in blocks:
        return "map", placeholder
    if placeholder.startswith("list of ") or placeholder.endswith("..."):
        element = placeholder.removeprefix("list of ").removesuffix("...").rstrip("s")
        return "list", (element if element in blocks else None)
    if placeholder.startswith("map of ") or placeholder == "headers":
        value = placeholder.rsplit(" to ", 1)[-1].strip()
        return "open", (value if value in blocks else None)
    return "any", None  # a Go type the reference does not spell out


def loki_walk(lines: list[str], path: str, blocks: dict[str, list[str]], schema: Schema,
              seen: tuple[str, ...]) -> None:
    """Read one block's lines; `path` is where the block sits in the configuration."""
    stack: list[tuple[int, str]] = [(-1, path)]
    for line in lines:
        if line.lstrip().startswith("#") or not line.strip():
            continue
        inline = LOKI_INLINE.match(line)
        if inline and inline.group("block") in blocks and inline.group("block") not in seen:
            indent = len(inline.group("indent"))
            while stack and stack[-1][0] >= indent:
                stack.pop()
            loki_walk(blocks[inline.group("block")], stack[-1][1], blocks, schema, seen + (inline.group("block"),))
            continue
        match = LOKI_ENTRY.match(line) or LOKI_LIST_ITEM.match(line)
        nested = None if match else LOKI_NESTED.match(line)
        found = match or nested
        if not found:
            continue
        indent = len(found.group("indent"))
        while stack and stack[-1][0] >= indent:
            stack.pop()
        parent = stack[-1][1]
        if LOKI_LIST_ITEM.match(line):
            parent += "[]"
            schema.setdefault(parent, "map")
        child = join(parent, found.group("key"))
        if nested:
            schema[child] = "map"
            stack.append((indent, child))
            continue
        kind, block = loki_type(found.group("type"), blocks)
        schema[child] = kind
        if block is not None and block not in seen:
            inner = {"map": child, "list": child + "[]", "open": child + ".*"}[kind]
            if kind != "map":
                # A list or map of blocks: the block describes each item.
                schema[child] = "list" if kind == "list" else "map"
                schema[inner] = "map"
            loki_walk(blocks[block], inner, blocks, schema, seen + (block,))


def parse_loki(text: str, _tree: Path | None) -> Schema:
    blocks = loki_blocks(text)
    schema: Schema = {}
    loki_walk(blocks[""], "", blocks, schema, ())
    return schema


# ------------------------------------------------------------------- grafana
# Sections whose keys are free (no fixed set): feature toggle names, navigation
# entries, and the settings of a plugin ([plugin.<id>]: any section so named).
GRAFANA_OPEN_SECTIONS = ("feature_toggles", "navigation.app_sections",
                         "navigation.app_standalone_pages", "plugin.*")


def ini_type(value: str) -> str:
    """INI values are text: only unambiguous defaults give a stricter type."""
    if value in ("true", "false"):
        return "bool"
    if re.fullmatch(r"-?\d+", value):
        return "int"
    return "string"


def parse_grafana(text: str, _tree: Path | None) -> Schema:
    # Grafana's ini parser (go-ini) reads `%(key)s` literally for us; no interpolation.
    parser = configparser.RawConfigParser(delimiters=("=",), comment_prefixes=("#", ";"),
                                          inline_comment_prefixes=None, strict=False,
                                          default_section="\0none", interpolation=None)
    parser.optionxform = str  # keys are case-sensitive (dialTimeout)
    parser.read_string("[\0root]\n" + text)
    schema: Schema = {}
    for section in parser.sections():
        path = "" if section == "\0root" else section
        if path:
            schema[path] = "map"
        for key, value in parser.items(section, raw=True):
            schema[join(path, key)] = ini_type(value.strip().strip('"'))
    for section in GRAFANA_OPEN_SECTIONS:
        schema[section] = "open"
    return schema


PARSERS: dict[str, Callable[..., Schema]] = {
    "mimir": parse_mimir, "tempo": parse_tempo, "loki": parse_loki, "grafana": parse_grafana,
}


# ---------------------------------------------------------------------- main
def header(args: argparse.Namespace) -> dict:
    return {
        "component": args.component,
        "version": args.version,
        "format": "ini" if args.component == "grafana" else "yaml",
        "source": {
            "repository": args.repository,
            "path": REFERENCE_PATHS[args.component],
            "ref": args.ref,
            "commit": args.commit,
        } | ({"snapshot": args.snapshot} if args.snapshot else {}),
        "generated_by": "lab/config_schema.py",
    }


class IndentedDumper(yaml.SafeDumper):
    """Lists indented under their key, as yamllint (ansible-lint's) wants them."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def dump(document: dict) -> str:
    return yaml.dump(document, Dumper=IndentedDumper, sort_keys=False, allow_unicode=True, width=100)


def write(args: argparse.Namespace, schema: Schema) -> Path:
    """Write the schema; the amendments of the file it replaces, if it describes the same
    version, are applied again (one that no longer applies stops the run: drop it by hand)."""
    out = Path(args.output) if args.output else SCHEMA_DIR / f"{args.component}.yml"
    out.parent.mkdir(parents=True, exist_ok=True)
    document = header(args) | {"keys": dict(sorted(schema.items()))}
    earlier = yaml.safe_load(out.read_text(encoding="utf-8")) if out.exists() else None
    if earlier and str(earlier.get("version")) == str(args.version):
        for entry in earlier.get("amendments", []):
            value = entry.get("type", entry.get("values"))
            try:
                document = amend(document, entry["change"], entry["path"], entry["source"], value)
            except ValueError as error:
                raise SystemExit(f"{out}: an amendment no longer applies to the new reference: {error}") from None
    text = ("# Derived data (key paths and types), generated from the upstream reference\n"
            "# named below by lab/config_schema.py: regenerate, never edit by hand.\n")
    out.write_text(text + dump(document))
    return out


# ------------------------------------------------------------------- amend
CHANGES = ("remove", "add", "enum")


def amend(document: dict, change: str, path: str, source: str, value: Any = None) -> dict:
    """The schema document with one sourced change applied and recorded; a change of the
    same kind to the same path replaces the earlier one."""
    if change not in CHANGES:
        raise ValueError(f"unknown change {change!r}: one of {', '.join(CHANGES)}")
    if not source.strip():
        raise ValueError(f"{change} {path}: --source must name where upstream states it")
    keys: Schema = dict(document["keys"])
    if change == "remove":
        doomed = [key for key in keys if key == path or key.startswith(path + ".") or key.startswith(path + "[]")]
        if not doomed:
            raise ValueError(f"remove {path}: no such key in the {document['component']} schema")
        for key in doomed:
            del keys[key]
    elif change == "add":
        if value not in SCALARS + ("map", "open", "list"):
            raise ValueError(f"add {path}: unknown type {value!r}")
        parent = path.rsplit(".", 1)[0] if "." in path else ""
        if parent and keys.get(parent) != "map":
            raise ValueError(f"add {path}: its parent {parent} is not a map of the schema")
        keys[path] = value
    else:
        values = [str(item) for item in value or []]
        if not values:
            raise ValueError(f"enum {path}: no values")
        if not fnmatch.filter(keys, path):
            raise ValueError(f"enum {path}: matches no key of the {document['component']} schema")
    entry = {"change": change, "path": path} | ({"type": value} if change == "add" else {}) \
        | ({"values": [str(item) for item in value]} if change == "enum" else {}) | {"source": source}
    amendments = [old for old in document.get("amendments", [])
                  if (old["change"], old["path"]) != (change, path)] + [entry]
    out = {key: item for key, item in document.items() if key not in ("keys", "amendments")}
    return out | {"amendments": amendments, "keys": dict(sorted(keys.items()))}


def parse_amendments(args: argparse.Namespace) -> list[tuple[str, str, Any]]:
    """(change, path, value) of each --remove, --add and --enum on the command line."""
    changes: list[tuple[str, str, Any]] = [("remove", path, None) for path in args.remove]
    for text in args.add:
        path, kind = text.split("=", 1) if "=" in text else (text, "")
        changes.append(("add", path, kind))
    for text in args.enum:
        path, values = text.split("=", 1) if "=" in text else (text, "")
        changes.append(("enum", path, values.split(",") if values else []))
    return changes


def amend_main(argv: list[str]) -> int:
    cli = argparse.ArgumentParser(prog="config_schema.py amend", description="Apply sourced changes to a schema.")
    cli.add_argument("component", choices=sorted(PARSERS))
    cli.add_argument("--remove", action="append", default=[], metavar="PATH")
    cli.add_argument("--add", action="append", default=[], metavar="PATH=TYPE")
    cli.add_argument("--enum", action="append", default=[], metavar="PATTERN=V1,V2")
    cli.add_argument("--source", required=True, help="upstream's statement: repository, file, version, words")
    cli.add_argument("--schema", help="default: tests/unit/roles/config_schemas/<component>.yml")
    args = cli.parse_args(argv)
    out = Path(args.schema) if args.schema else SCHEMA_DIR / f"{args.component}.yml"
    text = out.read_text(encoding="utf-8")
    document = yaml.safe_load(text)
    try:
        for change, path, value in parse_amendments(args):
            document = amend(document, change, path, args.source, value)
    except ValueError as error:
        raise SystemExit(f"{out}: {error}") from None
    preamble = "".join(line + "\n" for line in text.splitlines() if line.startswith("#"))
    out.write_text(preamble + dump(document))
    print(f"{out}: {len(document['amendments'])} amendments, {len(document['keys'])} key paths")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["amend"]:
        return amend_main(argv[1:])
    cli = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    cli.add_argument("component", choices=sorted(PARSERS))
    cli.add_argument("reference", help="the upstream reference file, read at --commit")
    cli.add_argument("--version", required=True, help="the release the role pins")
    cli.add_argument("--repository", required=True, help="owner/name of the upstream repository")
    cli.add_argument("--ref", required=True, help="the tag or branch read (the nearest one if no tag)")
    cli.add_argument("--commit", required=True, help="the full commit the reference was read at")
    cli.add_argument("--snapshot", help="what was read when it is not the pinned release's tag: "
                     "the snapshot's own version and date, and why (written to the header)")
    cli.add_argument("--source-tree", help="a git directory of the repository (Tempo: omitempty fields)")
    cli.add_argument("--output", help="default: tests/unit/roles/config_schemas/<component>.yml")
    args = cli.parse_args(argv)
    text = Path(args.reference).read_text(encoding="utf-8")
    tree = Path(args.source_tree) if args.source_tree else None
    if args.component == "tempo":
        schema = parse_tempo(text, tree, args.commit)
    else:
        schema = PARSERS[args.component](text, tree)
    bad = {path: kind for path, kind in schema.items() if kind not in SCALARS + ("map", "open", "list")}
    if bad:
        raise SystemExit(f"unknown types: {bad}")
    print(f"{write(args, schema)}: {len(schema)} key paths")
    return 0


if __name__ == "__main__":
    sys.exit(main())
