"""The sha256 an upstream checksum file gives for one release file, in every form upstreams publish."""
from __future__ import annotations

import hashlib

import pytest

from ansible_collections.observability.lgtm.plugins.module_utils.checksum_file import (
    ChecksumFileError, base_name, digest_for, digest_lines,
)

ARM = "prometheus-3.16.0.linux-arm64.tar.gz"
AMD = "prometheus-3.16.0.linux-amd64.tar.gz"
ARM_SHA = hashlib.sha256(b"arm64").hexdigest()
AMD_SHA = hashlib.sha256(b"amd64").hexdigest()
URL = "https://mirror.example/prometheus/prometheus/releases/download/v3.16.0/sha256sums.txt"


@pytest.mark.parametrize("content", [
    f"{ARM_SHA}",                       # Mimir's -sha-256, goreleaser's split .sha256 (no newline)
    f"{ARM_SHA}\n",                     # Grafana's .sha256 before 12.4.3
    f"\n  {ARM_SHA.upper()}  \r\n\n",   # blanks, CRLF, upper-case hex
], ids=["bare", "newline", "blanks-crlf-upper"])
def test_a_digest_alone_is_the_digest_of_the_file_beside_it(content: str) -> None:
    assert digest_for(content, ARM, URL) == ARM_SHA


@pytest.mark.parametrize("line", [
    f"{ARM_SHA}  {ARM}",                        # sha256sum, promu, goreleaser SHA256SUMS
    f"{ARM_SHA} *{ARM}",                        # shasum -b (Jaeger)
    f"{ARM_SHA}  dist/{ARM}",                   # Grafana since 12.4.3
    f"{ARM_SHA}  ./{ARM}",                      # sha256sum run on ./*
    f"{ARM_SHA} *./deploy/{ARM}",               # binary mode and a path
    f"{ARM_SHA}\t{ARM}",                        # a tab
    f"SHA256 ({ARM}) = {ARM_SHA}",              # BSD (sha256 -r's opposite, shasum --tag)
    f"SHA256 (dist/{ARM}) = {ARM_SHA}",
], ids=["sha256sum", "shasum-b", "dist-path", "dot-slash", "binary-path", "tab", "bsd", "bsd-path"])
def test_a_line_names_the_file_by_its_base_name(line: str) -> None:
    content = f"# digests of v3.16.0\n{AMD_SHA}  {AMD}\n{line}\n{AMD_SHA}  prometheus-web-ui-3.16.0.tar.gz\n"
    assert digest_for(content, ARM, URL) == ARM_SHA
    assert digest_for(content.replace(ARM_SHA, ARM_SHA.upper()), ARM, URL) == ARM_SHA


def test_each_architecture_gets_its_own_line() -> None:
    content = f"{AMD_SHA}  {AMD}\n{ARM_SHA}  {ARM}\n"
    assert (digest_for(content, AMD, URL), digest_for(content, ARM, URL)) == (AMD_SHA, ARM_SHA)


def test_a_name_is_not_matched_by_its_prefix_or_suffix() -> None:
    content = f"{AMD_SHA}  {ARM}.sig\n{AMD_SHA}  x{ARM}\n{AMD_SHA}  {ARM}/other\n"
    with pytest.raises(ChecksumFileError, match="has no sha256 for"):
        digest_for(content, ARM, URL)


def test_lines_naming_the_file_alike_in_two_places_agree() -> None:
    assert digest_for(f"{ARM_SHA}  {ARM}\n{ARM_SHA}  dist/{ARM}\n", ARM, URL) == ARM_SHA


def test_lines_naming_the_file_with_different_digests_are_refused_naming_both() -> None:
    with pytest.raises(ChecksumFileError) as error:
        digest_for(f"{ARM_SHA}  a/{ARM}\n{AMD_SHA}  b/{ARM}\n", ARM, URL)
    assert str(error.value).startswith(f"{URL} gives 2 different sha256 for {ARM}")
    assert ARM_SHA in str(error.value) and AMD_SHA in str(error.value)


@pytest.mark.parametrize(("content", "held"), [
    (f"{AMD_SHA}  {AMD}\n", "1 digest line(s), none for it"),
    (f"{ARM_SHA}\n{AMD_SHA}\n", "2 digest line(s), none for it"),    # several digests alone: for which file?
    ("", "no digest line"),
    ("<html><body>Not Found</body></html>\n", "no digest line"),     # an error page served as the file
    (f"{ARM_SHA[:-1]}  {ARM}\n", "no digest line"),                   # 63 digits: not a sha256
    (f"{hashlib.sha512(b'x').hexdigest()}  {ARM}\n", "no digest line"),  # a sha512 line
    (f"{ARM_SHA}{ARM}\n", "no digest line"),                          # no blank between digest and name
], ids=["other-file", "several-alone", "empty", "html", "short", "sha512", "no-blank"])
def test_no_line_for_the_file_names_the_file_the_url_and_the_forms(content: str, held: str) -> None:
    with pytest.raises(ChecksumFileError) as error:
        digest_for(content, ARM, URL)
    message = str(error.value)
    assert message.startswith(f"{URL} has no sha256 for {ARM} ({held})")
    assert "'<sha256>  <dir>/<file>'" in message and message.endswith("nothing was downloaded")


@pytest.mark.parametrize(("content", "file_name"), [(None, ARM), (b"bytes", ARM), (f"{ARM_SHA}", ""),
                                                    (f"{ARM_SHA}", "dist/x.tar.gz"), (f"{ARM_SHA}", None)])
def test_wrong_arguments_are_refused_naming_the_source(content: object, file_name: object) -> None:
    with pytest.raises(ChecksumFileError, match=f"^{URL}: expected"):
        digest_for(content, file_name, URL)  # type: ignore[arg-type]


def test_lines_and_base_names() -> None:
    assert base_name("dist/linux/x.tar.gz") == base_name("./x.tar.gz") == base_name("x.tar.gz") == "x.tar.gz"
    assert digest_lines(f"# c\n\n{ARM_SHA}\n{AMD_SHA} *./{AMD}\nnoise\n") == [(ARM_SHA, None), (AMD_SHA, AMD)]


@pytest.mark.parametrize("algorithm, length", [("sha1", 40), ("sha256", 64), ("sha512", 128)])
def test_other_algorithms_are_read_in_the_same_forms(algorithm: str, length: int):
    """A plugin's checksum file may list SHA-1 (the VictoriaLogs data source's `sha1sum dist/<zip>`)."""
    digest = "ab" * (length // 2)
    assert digest_for(f"{digest}  dist/plugin.zip\n", "plugin.zip", "u", algorithm) == digest
    assert digest_for(f"{digest.upper()}\n", "plugin.zip", "u", algorithm) == digest


def test_a_digest_of_another_algorithm_is_no_digest_of_this_one():
    with pytest.raises(ChecksumFileError, match=r"^u has no sha256 for plugin\.zip \(no digest line\)"):
        digest_for(f"{'ab' * 20}  dist/plugin.zip\n", "plugin.zip", "u", "sha256")


def test_an_unknown_algorithm_fails_naming_the_choices():
    with pytest.raises(ChecksumFileError, match=r"must be one of sha1, sha256, sha512, got 'md5'"):
        digest_for("x", "plugin.zip", "u", "md5")
