#!/bin/bash
# Install the Debian packages the build and the tests need, only those that
# are missing.  Uses the host's ordinary apt configuration (bookworm).
set -euo pipefail

pkgs=(
	build-essential flex bison bc libelf-dev libssl-dev cpio xz-utils kmod
	busybox-static qemu-system-x86 libnuma-dev numactl hwloc libhwloc-dev
	ccache rsync python3 python3-ply python3-git git quilt libcap-dev file
)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "deps: installing ${missing[*]}"
sudo=
[ "$(id -u)" -eq 0 ] || sudo=sudo
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get -qq update
$sudo apt-get -qq install -y --no-install-recommends "${missing[@]}" >/dev/null
