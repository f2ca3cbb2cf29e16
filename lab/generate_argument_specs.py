"""Build each role's meta/argument_specs.yml from one source of generic options and the role's own.

Ansible reads a plain meta/argument_specs.yml per role at run time; this dev
tool writes it (users never run it), for every role that has a
meta/argument_specs_source.yml:

- the source holds the entry point's short_description and description, the
  role's ``facts`` and its options in the order of the spec. An option is the
  role's own (a plain option spec), ``generic`` (the template of
  roles/common/meta/generic_options.yml named by the option's name without the
  role's prefix), or a mapping with ``generic: <template>`` whose other keys
  replace the template's, and whose ``also`` adds sentences to its description;
- the templates' ``${...}`` placeholders are filled from the role's name
  (``${role}``), its facts and ``${default}``, the option's default written as
  documentation;
- every ``default:`` comes from the role's defaults/main.yml: a literal one is
  written as it is, a computed one (``{{ ... }}``) is not written at all. A
  source may not state one, so that a default lives in one place. A default
  read from the stack catalogue (``lookup('observability.lgtm.stack_catalogue',
  PATH)``) counts as literal: it is written with the catalogue's value, and
  the option says where it comes from.
- a default that reads the host's machine architecture as upstream names it
  (``{{ <role>_release_architecture }}``, from the stack catalogue in the role's
  vars/main.yml, in the artifact URLs) is written with ``<arch>`` in its place,
  and the option says which names it takes for which machine (the catalogue's).

``python lab/generate_argument_specs.py`` (``make specs``) writes the files;
``--check`` only lists the stale ones (exit status 1), as the unit test
tests/unit/roles/test_argument_specs_generated.py does.
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional

import yaml

REPO = Path(__file__).resolve().parents[1]
ROLES_DIR = REPO / "roles"
GENERIC_OPTIONS = ROLES_DIR / "common" / "meta" / "generic_options.yml"
SOURCE_NAME = "argument_specs_source.yml"
GENERIC = "generic"
PLACEHOLDER = re.compile(r"\$\{([a-z_]+)\}")
# A computed default made of plain variables and text only, such as "{{ x_release_url }}/x-{{ x_version }}.tar.gz".
PLAIN_VARIABLE = re.compile(r"\{\{\s*([a-z_][a-z0-9_]*)\s*\}\}")
TEMPLATED = "{{"
# A longer documented default is written with a blank between its parts: YAML folds a line only at a blank,
# and ansible-lint refuses lines over 160 characters.
UNBROKEN_DEFAULT_MAX = 130
# The order of an option's keys in the written file (the rest follow in the source's order).
KEY_ORDER = ("type", "elements", "choices", "default", "required", "no_log")
HEADER = """\
---
# Written by lab/generate_argument_specs.py (`make specs`) from meta/argument_specs_source.yml, the generic
# options in roles/common/meta/generic_options.yml and the literal defaults of defaults/main.yml.
# Do not edit: change those and run `make specs`.
"""
AUTHOR = "observability.lgtm maintainers"
# A default the roles read from the stack catalogue.
CATALOGUE_LOOKUP = re.compile(r"\{\{\s*lookup\('observability\.lgtm\.stack_catalogue',\s*'([a-z_.]+)'\)\s*\}\}")
CATALOGUE_NOTE = "The default is the stack catalogue's (C(plugins/module_utils/stack_catalogue.py))."
# The host's machine architecture in upstream's name, as the roles' artifact URLs read it (roles/common).
ARCHITECTURE = re.compile(r"\{\{\s*([a-z_]+)_release_architecture\s*\}\}")
ARCHITECTURE_MARK = "<arch>"


sys.path.insert(0, str(Path(__file__).resolve().parent))
from stack_catalogue import CATALOGUE  # noqa: E402  (lab/ is not a package)


def resolve_catalogue(value: Any) -> Any:
    """The value with every stack catalogue lookup replaced by the catalogue's value
    (a string that is one lookup alone takes the value's own type, a port stays a number).
    A lookup of the host's machine architecture is the host's, not the catalogue's: it stays."""
    if isinstance(value, dict):
        return {key: resolve_catalogue(item) for key, item in value.items()}
    if isinstance(value, list):
        return [resolve_catalogue(item) for item in value]
    if not isinstance(value, str):
        return value
    whole = CATALOGUE_LOOKUP.fullmatch(value.strip())
    if whole and not for_the_host(whole):
        return CATALOGUE.lookup_path(whole.group(1))
    return CATALOGUE_LOOKUP.sub(
        lambda match: match.group(0) if for_the_host(match) else str(CATALOGUE.lookup_path(match.group(1))), value)


def for_the_host(match: re.Match) -> bool:
    """Whether a catalogue lookup reads the host's machine architecture (machine, release_architectures)."""
    return match.group(1).split(".")[0] in CATALOGUE.MACHINE_VIEWS


class SourceError(Exception):
    """A role's source, the templates or the defaults do not fit together (a mistake of the role's author)."""


def architecture_names(role: str, value: Any) -> Optional[str]:
    """The default with each read of the host's architecture name written as <arch>; None if it reads none.
    A role reads its own entry of the catalogue: another's is its author's mistake."""
    if not isinstance(value, str) or not ARCHITECTURE.search(value):
        return None
    for read in ARCHITECTURE.findall(value):
        if read != role:
            raise SourceError(f"{role}: a default reads {read}_release_architecture, not {role}_release_architecture")
    return ARCHITECTURE.sub(ARCHITECTURE_MARK, value)


def architecture_note(role: str) -> str:
    """What <arch> stands for in a role's defaults, from the catalogue (upstream's name per machine)."""
    names = CATALOGUE.CATALOGUE[role].release_architectures
    pairs = " and ".join(f"C({name}) on C({machine})" for machine, name in names.items())
    return (f"C({ARCHITECTURE_MARK}) is upstream's name of the host's machine architecture: {pairs} hosts (the "
            f"collection-wide C(lgtm_architecture) when set, else the host's C(ansible_architecture); the stack "
            f"catalogue's names). Any other architecture fails before any change.")


class SpecDumper(yaml.SafeDumper):
    """Block style with list items indented under their key, like the hand-written files of the collection."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def documented_default(value: Any) -> Optional[str]:
    """A computed default as documentation markup, O(variable) for each variable; None unless plain variables."""
    if not isinstance(value, str) or TEMPLATED not in value:
        return None
    rest = PLAIN_VARIABLE.sub("", value)
    if TEMPLATED in rest or "}}" in rest or "{%" in rest:
        return None
    parts: List[str] = []
    position = 0
    for match in PLAIN_VARIABLE.finditer(value):
        if match.start() > position:
            parts.append(f"C({value[position:match.start()]})")
        parts.append(f"O({match.group(1)})")
        position = match.end()
    if position < len(value):
        parts.append(f"C({value[position:]})")
    return ("".join(parts) if sum(map(len, parts)) <= UNBROKEN_DEFAULT_MAX else " ".join(parts))


def fill(text: str, values: Mapping[str, str], where: str) -> str:
    """The text with every ${name} replaced; an unknown name is the author's mistake."""
    def value_of(match: re.Match) -> str:
        name = match.group(1)
        if name not in values:
            raise SourceError(f"{where}: ${{{name}}} is not a fact of the role (facts: {', '.join(sorted(values))})")
        return values[name]
    return PLACEHOLDER.sub(value_of, text)


def fill_all(value: Any, values: Mapping[str, str], where: str) -> Any:
    """Fill the placeholders of every string in a template's value (descriptions, choices)."""
    if isinstance(value, str):
        return fill(value, values, where)
    if isinstance(value, list):
        return [fill_all(item, values, where) for item in value]
    if isinstance(value, dict):
        return {key: fill_all(item, values, where) for key, item in value.items()}
    return value


def as_list(description: Any) -> List[str]:
    return list(description) if isinstance(description, list) else [description]


def generic_option(role: str, name: str, declared: Any, templates: Mapping[str, Any],
                   facts: Mapping[str, str], default: Any) -> Dict[str, Any]:
    """A generic option: its template with the role's overrides, facts filled in."""
    overrides: Dict[str, Any] = {} if declared == GENERIC else dict(declared)
    template_name = overrides.pop(GENERIC, None)
    if template_name is None or template_name is True or declared == GENERIC:
        template_name = name[len(role) + 1:]
    if template_name not in templates:
        raise SourceError(f"{role}: {name}: no generic option {template_name!r} in {GENERIC_OPTIONS.name}")
    also = as_list(overrides.pop("also", []))
    option = {**templates[template_name], **overrides}
    if also:
        option["description"] = as_list(option["description"]) + also
    values = {**facts, "role": role}
    markup = documented_default(default)
    if markup is not None:
        values["default"] = markup
    return fill_all(option, values, f"{role}: {name}")


def ordered(option: Mapping[str, Any]) -> Dict[str, Any]:
    """The option's keys in the collection's usual order, description last."""
    keys = [key for key in KEY_ORDER if key in option]
    keys += [key for key in option if key not in keys and key != "description"]
    keys += ["description"] if "description" in option else []
    return {key: option[key] for key in keys}


def role_document(role_dir: Path, templates: Mapping[str, Any]) -> Dict[str, Any]:
    """The argument_specs document of one role, built from its source, the templates and its defaults."""
    role = role_dir.name
    source = load_yaml(role_dir / "meta" / SOURCE_NAME) or {}
    defaults_file = role_dir / "defaults" / "main.yml"
    defaults = (load_yaml(defaults_file) or {}) if defaults_file.exists() else {}
    facts = source.get("facts") or {}
    options: Dict[str, Any] = {}
    for name, declared in (source.get("options") or {}).items():
        if not name.startswith(f"{role}_"):
            raise SourceError(f"{role}: {name}: an option's name starts with the role's name")
        is_generic = declared == GENERIC or (isinstance(declared, dict) and GENERIC in declared)
        if isinstance(declared, dict) and "default" in declared:
            raise SourceError(f"{role}: {name}: write the default in defaults/main.yml, not in {SOURCE_NAME}")
        written = architecture_names(role, defaults.get(name))
        if is_generic:
            option = generic_option(role, name, declared, templates, facts,
                                    defaults.get(name) if written is None else written)
        elif isinstance(declared, dict):
            option = dict(declared)
        else:
            raise SourceError(f"{role}: {name}: an option is {GENERIC!r} or a mapping, got {declared!r}")
        default = resolve_catalogue(defaults.get(name))
        if name in defaults and not (isinstance(default, str) and TEMPLATED in default):
            option["default"] = default
            if default != defaults[name]:
                option["description"] = as_list(option.get("description", [])) + [CATALOGUE_NOTE]
        if written is not None:
            option["description"] = as_list(option.get("description", [])) + [architecture_note(role)]
        options[name] = ordered(option)
    undocumented = sorted(set(defaults) - set(options))
    if undocumented:
        raise SourceError(f"{role}: defaults/main.yml has options missing from {SOURCE_NAME}: {undocumented}")
    entry = {"short_description": source["short_description"], "description": source["description"],
             "author": [AUTHOR], "options": options}
    return {"argument_specs": {"main": entry}}


def render(document: Mapping[str, Any]) -> str:
    body = yaml.dump(document, Dumper=SpecDumper, sort_keys=False, width=110, allow_unicode=True,
                     default_flow_style=False, explicit_start=False)
    return HEADER + body


def generated_roles() -> List[Path]:
    return sorted(path for path in ROLES_DIR.iterdir() if (path / "meta" / SOURCE_NAME).exists())


def generated_specs() -> Dict[Path, str]:
    """Every generated meta/argument_specs.yml by path, as it should read."""
    templates = load_yaml(GENERIC_OPTIONS)
    return {role / "meta" / "argument_specs.yml": render(role_document(role, templates)) for role in generated_roles()}


def stale_specs() -> List[Path]:
    """The generated files that differ from what their sources build (or are missing)."""
    return [path for path, text in generated_specs().items()
            if not path.exists() or path.read_text(encoding="utf-8") != text]


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="list stale files and exit 1 instead of writing")
    arguments = parser.parse_args(argv)
    try:
        if arguments.check:
            stale = stale_specs()
            for path in stale:
                print(f"stale: {path.relative_to(REPO)} (run `make specs`)")
            return 1 if stale else 0
        for path, text in generated_specs().items():
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                path.write_text(text, encoding="utf-8")
                print(f"wrote {path.relative_to(REPO)}")
    except SourceError as error:
        print(f"argument_specs: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
