#!/usr/bin/env bash
# Build the lab's systemd host images locally: debootstrap, then docker import.
# No image is pulled from any registry. The Debian mirror is read from this
# machine's own apt sources. An image is rebuilt only when its recipe (this
# file) changes: the recipe digest is stored as an image label.
#
#   lab/images.sh [12] [13]      (default: both)
#   lab/images.sh --recipe       print the recipe digest the images are named and labelled by
set -euo pipefail

CACHE="${LGTM_CACHE:-$HOME/.cache/observability-lgtm}"
LOGS="$CACHE/logs"
mkdir -p "$LOGS" "$CACHE/images"
# The recipe: this file and the bytecode cache every lab host gets (lab/zipimport_bytecode_cache.py).
BYTECODE_CACHE="$(dirname "$0")/zipimport_bytecode_cache.py"
RECIPE="$(cat "$0" "$BYTECODE_CACHE" | sha256sum | cut -c1-16)"
if [[ "${1:-}" == "--recipe" ]]; then echo "$RECIPE"; exit 0; fi

# Packages a lab host needs: systemd as PID 1, Python for Ansible, python3-apt
# for the apt module, unzip/tar for unarchive, acl for become_user.
PACKAGES=systemd,systemd-sysv,dbus,python3,python3-apt,ca-certificates,unzip,tar,gzip,acl,procps,iproute2,curl

codename_for() {
  case "$1" in
    12) echo bookworm ;;
    13) echo trixie ;;
    *) echo "images.sh: unknown Debian release '$1' (choose 12 or 13)" >&2; exit 2 ;;
  esac
}

# The first Debian archive URI in this machine's apt sources (deb822 or one-line).
debian_mirror() {
  local uri
  uri="$(grep -hE '^\s*URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null \
           | awk '{print $2}' | grep -E '/debian/?$' | head -n1 || true)"
  if [[ -z "$uri" ]]; then
    uri="$(grep -hE '^\s*deb\s' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
             | awk '{print $2}' | grep -E '/debian/?$' | head -n1 || true)"
  fi
  if [[ -z "$uri" ]]; then
    echo "images.sh: no Debian archive found in this machine's apt sources" >&2
    exit 1
  fi
  echo "$uri"
}

build_image() {
  local release="$1" codename tag log rootfs tarball current
  codename="$(codename_for "$release")"
  tag="lgtm-lab/debian:$release"
  current="$(docker image inspect -f '{{ index .Config.Labels "org.observability.lgtm.recipe" }}' "$tag" 2>/dev/null || true)"
  if [[ "$current" == "$RECIPE" ]]; then
    echo "image $tag: cached"
    return
  fi
  tarball="$CACHE/images/debian-$release-$RECIPE.tar"
  log="$LOGS/image-debian-$release.log"
  if [[ ! -s "$tarball" ]]; then
    rootfs="$CACHE/images/rootfs-$release"
    rm -rf "$rootfs"
    echo "image $tag: debootstrap $codename (log: $log)"
    if ! debootstrap --variant=minbase --include="$PACKAGES" "$codename" "$rootfs" "$(debian_mirror)" >"$log" 2>&1; then
      echo "ERROR: step 'debootstrap $codename' failed; read $log" >&2
      exit 1
    fi
    # A container has no consoles or hardware clock: keep systemd from waiting on them.
    for unit in getty@tty1.service console-getty.service systemd-firstboot.service \
                systemd-timesyncd.service systemd-udevd.service apt-daily.timer apt-daily-upgrade.timer; do
      ln -sf /dev/null "$rootfs/etc/systemd/system/$unit"
    done
    : >"$rootfs/etc/machine-id"
    # Lab hosts keep the bytecode of Ansible's module payloads (why: the module's docstring).
    install -m 0644 "$BYTECODE_CACHE" "$rootfs/usr/lib/python3/dist-packages/lab_zipimport_bytecode_cache.py"
    echo "import lab_zipimport_bytecode_cache" >"$rootfs/usr/lib/python3/dist-packages/lab_zipimport_bytecode_cache.pth"
    rm -rf "$rootfs/var/cache/apt/archives/"*.deb "$rootfs/var/lib/apt/lists/"*
    tar -C "$rootfs" -cf "$tarball.part" . && mv "$tarball.part" "$tarball"
    rm -rf "$rootfs"
  fi
  echo "image $tag: docker import"
  if ! docker import \
      --change 'CMD ["/lib/systemd/systemd"]' \
      --change 'ENV container=docker' \
      --change "LABEL org.observability.lgtm.recipe=$RECIPE" \
      "$tarball" "$tag" >>"$log" 2>&1; then
    echo "ERROR: step 'docker import $tag' failed; read $log" >&2
    exit 1
  fi
  # Old recipes' tarballs are dead weight once the new image exists.
  find "$CACHE/images" -name "debian-$release-*.tar" ! -name "debian-$release-$RECIPE.tar" -delete
}

for release in "${@:-12 13}"; do
  for r in $release; do build_image "$r"; done
done
