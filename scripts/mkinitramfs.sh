#!/bin/bash
# Build the test initramfs (an uncompressed cpio): busybox-static, numactl,
# the installed kselftests with the shared libraries they need, our guest
# scripts, and for gmem_cma_qemu.sh Debian's QEMU (scripts/fetch-qemu.sh,
# with its own loader and libraries, in /opt/qemu) and the test kernel
# itself as /boot/bzImage, which QEMU boots as a nested guest.
#
# usage: mkinitramfs.sh <kselftest-install-dir> <output.cpio> <bzImage> <qemu-dir>
set -euo pipefail

ksft=$(cd "$1" && pwd)
out=$2
kernel=$3
qemu=$4
here=$(cd "$(dirname "$0")" && pwd)
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT

mkdir -p "$root"/{bin,sbin,dev,proc,sys,tmp,etc,usr/bin,usr/share/gmem_cma}
cp /bin/busybox "$root/bin/busybox"
ln -s busybox "$root/bin/sh"
cp "$here/guest/init" "$root/init"
cp "$here/guest/report.sh" "$here/guest/stress.sh" "$root/usr/share/gmem_cma/"
cp -a "$ksft" "$root/kselftest"
mkdir -p "$root/usr/sbin"
cp "$ksft/../gmemctl" "$root/usr/sbin/gmemctl"
cp "$ksft/../gmem_vm" "$root/usr/sbin/gmem_vm"
cp "$(command -v numactl)" "$root/usr/bin/"
# run_kselftest.sh needs GNU timeout (--foreground) for its per-test limit.
cp /usr/bin/timeout "$root/usr/bin/"
mkdir -p "$root/boot" "$root/opt"
cp "$kernel" "$root/boot/bzImage"
# Its own loader and libraries: left out of the ldd pass below.
cp -a "$qemu" "$root/opt/qemu"
[ -e "$root/dev/console" ] || mknod -m 600 "$root/dev/console" c 5 1 2>/dev/null || true

# The dynamic loader and every library the ELF binaries need.
find "$root" -path "$root/opt/qemu" -prune -o -type f -perm -u+x -print | while read -r f; do
	file -b "$f" | grep -q 'dynamically linked' || continue
	ldd "$f" | awk '/=>/ && $3 ~ /^\// {print $3} /^\t\/lib/ {print $1}'
done | sort -u | while read -r lib; do
	mkdir -p "$root$(dirname "$lib")"
	cp -L "$lib" "$root$lib"
done
mkdir -p "$root/lib64"
cp -L /lib64/ld-linux-x86-64.so.2 "$root/lib64/"

(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) > "$out"
echo "mkinitramfs: $out, $(du -h "$out" | cut -f1)"
