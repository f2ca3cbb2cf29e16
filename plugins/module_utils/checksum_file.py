# -*- coding: utf-8 -*-
# Copyright: observability.lgtm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The digest an upstream checksum file gives for one release file (sha256, or what upstream lists).

Upstreams publish the digests of their release files in several forms, and a
form may change between releases of one project:

- the digest alone, in a file of its own beside the artifact (Mimir's
  ``<file>-sha-256``, goreleaser's split ``<file>.sha256``, Grafana's
  ``<file>.sha256`` before 12.4.3);
- ``sha256sum`` lines, ``<digest>  <file>`` (promu's ``sha256sums.txt``,
  goreleaser's ``SHA256SUMS``, Loki's and VictoriaLogs' files);
- ``shasum -b`` lines, ``<digest> *<file>`` (Jaeger's ``.sha256sum.txt``);
- either with a path before the name, ``<digest>  dist/<file>`` (Grafana's
  ``<file>.sha256`` since 12.4.3) or ``<digest>  ./<file>``;
- BSD lines, ``SHA256 (<file>) = <digest>``.

A line names the file when the base name of its path is the file's name.
``ansible.builtin.get_url`` (``checksum: sha256:<url>``) compares the whole
path after stripping leading ``./`` and so refuses ``dist/<file>``; the roles
therefore fetch the checksum file themselves, take the digest from it here
and give get_url the digest. Nothing here reads the network or the disk.
"""

from __future__ import annotations

import re
from typing import List, Optional, Tuple

# Hex digits of a digest, by algorithm (a plugin's checksum file may list SHA-1).
DIGEST_LENGTHS = {"sha1": 40, "sha256": 64, "sha512": 128}
FORMS = ("the digest alone", "'<{alg}>  <file>'", "'<{alg}> *<file>'", "'<{alg}>  <dir>/<file>'",
         "'{ALG} (<file>) = <{alg}>'")


def forms(algorithm: str) -> str:
    """The forms read, as an error message lists them, for one algorithm."""
    return ", ".join(form.format(alg=algorithm, ALG=algorithm.upper()) for form in FORMS)


def line_patterns(algorithm: str) -> Tuple["re.Pattern[str]", "re.Pattern[str]", "re.Pattern[str]"]:
    """The digest alone, a GNU line (sha256sum, shasum -b) and a BSD line, for one algorithm."""
    hex_digits = f"[0-9a-fA-F]{{{DIGEST_LENGTHS[algorithm]}}}"
    return (re.compile(hex_digits),
            re.compile(rf"(?P<digest>{hex_digits})\s+\*?(?P<path>\S.*)"),
            re.compile(rf"{algorithm.upper()} ?\((?P<path>.+)\) ?= ?(?P<digest>{hex_digits})"))


class ChecksumFileError(ValueError):
    """The checksum file gives no single sha256 for the file; the message names both."""


def base_name(path: str) -> str:
    """The file name of a path in a checksum line ('./x', 'dist/x' and 'x' all name x)."""
    return path.strip().replace("\\", "/").rsplit("/", 1)[-1]


def digest_lines(content: str, algorithm: str = "sha256") -> List[Tuple[str, Optional[str]]]:
    """(digest, named file) of every line that holds a digest; the file is None for a digest alone."""
    alone, gnu_line, bsd_line = line_patterns(algorithm)
    found: List[Tuple[str, Optional[str]]] = []
    for raw in content.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if alone.fullmatch(line):
            found.append((line.lower(), None))
            continue
        match = gnu_line.fullmatch(line) or bsd_line.fullmatch(line)
        if match:
            found.append((match.group("digest").lower(), base_name(match.group("path"))))
    return found


def digest_for(content: str, file_name: str, source: str = "the checksum file", algorithm: str = "sha256") -> str:
    """The lower-case digest (``algorithm``, sha256 by default) that ``content`` (a checksum file, read from ``source``) gives for ``file_name``.

    A file holding one digest alone gives it for whatever file it sits beside;
    otherwise exactly the lines naming ``file_name`` count, and they must agree.
    Raises ChecksumFileError naming the file and the source otherwise.
    """
    if not isinstance(content, str):
        raise ChecksumFileError(f"{source}: expected the checksum file's text, got {type(content).__name__}")
    if not isinstance(file_name, str) or not file_name or "/" in file_name:
        raise ChecksumFileError(f"{source}: expected a release file's name without a directory, got {file_name!r}")
    if algorithm not in DIGEST_LENGTHS:
        raise ChecksumFileError(f"{source}: the digest algorithm must be one of {', '.join(DIGEST_LENGTHS)}, "
                                f"got {algorithm!r}")
    lines = digest_lines(content, algorithm)
    if len(lines) == 1 and lines[0][1] is None:
        return lines[0][0]
    digests = sorted({digest for digest, named in lines if named == file_name})
    if len(digests) == 1:
        return digests[0]
    if digests:
        raise ChecksumFileError(f"{source} gives {len(digests)} different {algorithm} for {file_name} "
                                f"({', '.join(digests)}); nothing was downloaded")
    held = f"{len(lines)} digest line(s), none for it" if lines else "no digest line"
    raise ChecksumFileError(f"{source} has no {algorithm} for {file_name} ({held}); the forms read are "
                            f"{forms(algorithm)}, matched on the file's name; nothing was downloaded")
