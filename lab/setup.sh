#!/usr/bin/env bash
# Everything the lab and the tests need on a fresh machine, reusing caches:
#   1. Debian packages (docker.io, debootstrap, what the lab Kubernetes runs on, headless Chromium) when missing
#   2. a Docker engine, started here when none answers
#   3. the Python tools, pinned in requirements-dev.txt, in a virtualenv
#   4. the checkout made visible as the collection observability.lgtm
#   5. the lab host images (debootstrap + docker import), built while step 6 runs
#   6. the Apache-licensed stack binaries built from their Go modules into the artifact
#      mirror, served on loopback (the AGPL-licensed Grafana stack is never built here),
#      and the lab's own tools (telemetrygen, for the throughput benchmark; never served); the
#      upgrade scenario's older releases in a second process beside the pinned ones
#   7. the lab Kubernetes' binaries (lab/k8s_lab.py build, beside step 6) and its images of the
#      stack (lab/k8s_lab.py images); the cluster itself is started by its scenario
# Each step stops the set-up with a message naming the step and its log.
#
#   lab/setup.sh            all steps
#   lab/setup.sh --no-build steps 1-4 (enough for lint, sanity and unit tests)
set -euo pipefail

REPO="$(cd "$(dirname "$0")/.." && pwd)"
export LGTM_CACHE="${LGTM_CACHE:-$HOME/.cache/observability-lgtm}"
LOGS="$LGTM_CACHE/logs"
VENV="$LGTM_CACHE/venv"
COLLECTIONS="$LGTM_CACHE/collections"
mkdir -p "$LOGS"

step() { printf '\n==> %s\n' "$*"; }
fail() { echo "ERROR: step '$1' failed; read $2" >&2; exit 1; }

step "Debian packages"
missing=()
command -v dockerd >/dev/null || missing+=(docker.io)
command -v debootstrap >/dev/null || missing+=(debootstrap)
command -v rsync >/dev/null || missing+=(rsync)
command -v shellcheck >/dev/null || missing+=(shellcheck)
# The browser tests' headless Chromium (tests/molecule/browser.py).
command -v chromium-headless-shell >/dev/null || missing+=(chromium-headless-shell)
# The lab Kubernetes (lab/k8s_lab.py): runtime, CNI plugins, packet filter and sets, and a
# static C toolchain for its pause binary.
PATH="$PATH:/usr/sbin:/sbin"
command -v containerd >/dev/null || missing+=(containerd)
command -v runc >/dev/null || missing+=(runc)
[[ -x /usr/lib/cni/bridge ]] || missing+=(containernetworking-plugins)
command -v iptables >/dev/null || missing+=(iptables)
command -v conntrack >/dev/null || missing+=(conntrack)
# Its NetworkPolicy enforcer's sets (kube-router runs the ipset command).
command -v ipset >/dev/null || missing+=(ipset)
command -v gcc >/dev/null || missing+=(gcc)
# The tools' interpreter (step 3): Debian's Python 3.11, with its venv module.
/usr/bin/python3.11 -c 'import ensurepip' 2>/dev/null || missing+=(python3.11-venv)
[[ -e /usr/lib/x86_64-linux-gnu/libc.a ]] || missing+=(libc6-dev)
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"; } \
    >"$LOGS/apt.log" 2>&1 || fail "apt-get install ${missing[*]}" "$LOGS/apt.log"
else
  echo "present"
fi

step "Docker engine"
if docker info >/dev/null 2>&1; then
  echo "answering"
else
  echo "starting dockerd (log: $LOGS/dockerd.log)"
  nohup dockerd >"$LOGS/dockerd.log" 2>&1 &
  for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || fail "start dockerd" "$LOGS/dockerd.log"
fi

step "Python tools ($VENV)"
# Debian's build of Python 3.11, not whichever python3 comes first on PATH: Debian builds it with
# profile-guided and link-time optimisation, which a pyenv or source build does not get by
# default, and every suite here is Python-bound (ansible-playbook, pytest, ansible-lint).
# Measured in the README's "Where the time goes".
PYTHON=/usr/bin/python3.11
wanted="$({ cat "$REPO/requirements-dev.txt"; echo "$PYTHON"; } | sha256sum | cut -c1-16)"
if [[ "$(cat "$VENV/.requirements" 2>/dev/null)" != "$wanted" ]]; then
  # --clear: a venv made by another interpreter is made again, not patched.
  { "$PYTHON" -m venv --clear "$VENV" && "$VENV/bin/pip" install --disable-pip-version-check -r "$REPO/requirements-dev.txt"; } \
    >"$LOGS/pip.log" 2>&1 || fail "pip install -r requirements-dev.txt" "$LOGS/pip.log"
  echo "$wanted" >"$VENV/.requirements"
  echo "installed"
else
  echo "cached"
fi
# The modules Ansible runs on the controller (the kubernetes scenario's) keep their bytecode,
# as on the lab hosts: lab/zipimport_bytecode_cache.py says why.
# make test runs this script's --no-build part (for lint and sanity) beside the whole of it: each
# file is written under a name of its own and renamed into place, so the two never clash (a plain
# `install` of the same file twice at once fails with "File exists").
SITE_PACKAGES="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_path("purelib"))')"
put_content() {  # put_content DEST CONTENT: DEST holds CONTENT, mode 0644, replaced atomically
  [[ -f "$1" && "$(cat "$1")" == "$2" ]] && return 0
  local tmp
  tmp="$(mktemp "$1.XXXXXX")"
  printf '%s\n' "$2" >"$tmp" && chmod 0644 "$tmp" && mv -f "$tmp" "$1"
}
put_content "$SITE_PACKAGES/lab_zipimport_bytecode_cache.py" "$(cat "$REPO/lab/zipimport_bytecode_cache.py")"
put_content "$SITE_PACKAGES/lab_zipimport_bytecode_cache.pth" "import lab_zipimport_bytecode_cache"

step "Collection path"
# Ansible finds collections as ansible_collections/<namespace>/<name>; a link
# makes this checkout observability.lgtm wherever it was cloned.
mkdir -p "$COLLECTIONS/ansible_collections/observability"
ln -sfn "$REPO" "$COLLECTIONS/ansible_collections/observability/lgtm"
echo "$COLLECTIONS/ansible_collections/observability/lgtm -> $REPO"

if [[ "${1:-}" == "--no-build" ]]; then exit 0; fi

step "Lab host images and artifact mirror (Apache-licensed binaries from their Go modules), side by side"
# debootstrap waits on the network and the disk, the Go builds on the CPU: on a
# fresh machine running them together saves the images' few minutes.
echo "images: lab/images.sh in the background (its output: $LOGS/images.log)"
bash "$REPO/lab/images.sh" 12 13 >"$LOGS/images.log" 2>&1 &
images_pid=$!
# The lab Kubernetes' binaries beside the mirror's. Both are CPU-bound Go builds, but each
# leaves a core idle for minutes at a time (a link is one thread; module downloads wait on the
# network): a cold set-up with the two in turn left 632 of 3,984 core-seconds idle (16 %).
echo "lab Kubernetes binaries: lab/k8s_lab.py build in the background (its output: $LOGS/k8s-build.log)"
"$VENV/bin/python" "$REPO/lab/k8s_lab.py" build >"$LOGS/k8s-build.log" 2>&1 &
k8s_build_pid=$!
# The upgrade scenario's older releases beside the pinned ones: with one chain of builds, its
# tail (the older releases, after Kubernetes was done) had the cores to itself and left them
# idle in every module download and link. They come in the reverse order of the pinned ones, so
# that a component's two releases are not compiled at the same time (lab/mirror.py, only()).
echo "older releases (upgrade_from): lab/mirror.py build --only before in the background (its output: $LOGS/mirror-build-before.log)"
"$VENV/bin/python" "$REPO/lab/mirror.py" build --only before >"$LOGS/mirror-build-before.log" 2>&1 &
before_build_pid=$!
build_status=0
"$VENV/bin/python" "$REPO/lab/mirror.py" build --only pinned || build_status=$?
before_build_status=0
wait "$before_build_pid" || before_build_status=$?
cat "$LOGS/mirror-build-before.log"
k8s_build_status=0
wait "$k8s_build_pid" || k8s_build_status=$?
cat "$LOGS/k8s-build.log"
images_status=0
wait "$images_pid" || images_status=$?
cat "$LOGS/images.log"
# Each failure was already named with its own log (images.sh, mirror.py, k8s_lab.py).
((images_status == 0)) || fail "lab host images (lab/images.sh)" "$LOGS/images.log"
((build_status == 0)) || fail "artifact mirror build (lab/mirror.py)" "the log named above"
((before_build_status == 0)) || fail "artifact mirror build of the older releases (lab/mirror.py)" "$LOGS/mirror-build-before.log"
((k8s_build_status == 0)) || fail "lab Kubernetes build (lab/k8s_lab.py build)" "$LOGS/k8s-build.log"
"$VENV/bin/python" "$REPO/lab/mirror.py" serve

step "Lab Kubernetes images (the mirror's binaries on the lab's Debian base, no Docker)"
"$VENV/bin/python" "$REPO/lab/k8s_lab.py" images \
  || fail "lab Kubernetes images (lab/k8s_lab.py images)" "the log named above"
