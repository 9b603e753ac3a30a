#!/bin/bash
# Fetch qemu-system-x86 and its full dependency closure from Debian sid with a
# project-private apt configuration (the host's sources, lists, caches and
# dpkg status are never touched) and build a minimal, relocatable QEMU tree:
#
#   <out-dir>/qemu-system-x86_64   POSIX sh wrapper (runs under busybox sh)
#   <out-dir>/bin/qemu-system-x86_64
#   <out-dir>/lib/                 ld-linux-x86-64.so.2 + exactly the DT_NEEDED
#                                  closure (+ libgcc_s, which glibc dlopen()s)
#   <out-dir>/share/qemu/          only the firmware a -kernel boot needs
#   <out-dir>/VERSION              qemu-system-x86 package version
#
# Why: QEMU from sid needs sid's libc, newer than the host's (or the guest's),
# so the wrapper runs it through its own dynamic loader with --library-path;
# nothing is installed on the host.  The .debs are cached under
# <cache-dir>/debs/qemu/, so a second run needs no network (remove that
# directory to pick up a newer sid QEMU).
#
# usage: fetch-qemu.sh <cache-dir> <out-dir>
set -euo pipefail

cache=$1
out=$2
apt_dir=$cache/apt-qemu
debs=$cache/debs/qemu
mkdir -p "$apt_dir/lists/partial" "$debs/partial"

cat > "$apt_dir/sources.list" <<SRC
deb http://deb.debian.org/debian sid main
SRC

apt_opts=(
	-o "Dir::Etc::SourceList=$apt_dir/sources.list"
	-o "Dir::Etc::SourceParts=/dev/null"
	-o "Dir::State::Lists=$apt_dir/lists"
	-o "Dir::State::extended_states=$apt_dir/extended_states"
	-o "Dir::Cache=$apt_dir"
	-o "Dir::Cache::archives=$debs"
	-o "Dir::State::status=$apt_dir/status"
	-o "APT::Get::List-Cleanup=0"
	-o "APT::Architectures=amd64"
	-o "Debug::NoLocking=1"
	-o "APT::Sandbox::User=root"
)
# An empty dpkg status: the closure includes sid's libc6 and everything else.
: > "$apt_dir/status"

# The manifest lists the closure's .deb file names; it is written only once
# all of them have been downloaded.
manifest=$debs/manifest
if [ ! -s "$manifest" ]; then
	echo "fetch-qemu: updating private apt lists in $apt_dir" >&2
	apt-get "${apt_opts[@]}" -qq update >&2
	rm -f "$debs"/*.deb	# --print-uris omits what is already there
	inst=(apt-get "${apt_opts[@]}" -qq --no-install-recommends install qemu-system-x86)
	"${inst[@]}" --print-uris | awk '{print $2}' | sort > "$manifest.new"
	echo "fetch-qemu: downloading $(wc -l < "$manifest.new") packages to $debs" >&2
	"${inst[@]}" --download-only >&2
	mv "$manifest.new" "$manifest"
fi

version=$(dpkg-deb -f "$debs/$(grep '^qemu-system-x86_' "$manifest")" Version)
if [ "$(cat "$out/.done" 2>/dev/null)" = "$version" ]; then
	echo "fetch-qemu: $out is QEMU $version ($(du -sh "$out" | cut -f1))"
	exit 0
fi

root=$(mktemp -d "$cache/qemu-unpack.XXXXXX")
trap 'rm -rf "$root"' EXIT
echo "fetch-qemu: unpacking $(wc -l < "$manifest") packages" >&2
while read -r deb; do dpkg-deb -x "$debs/$deb" "$root"; done < "$manifest"

# Follow a path (and its symlinks, absolute or relative) inside $root.
resolve() {
	local p=$1 t
	while [ -L "$p" ]; do
		t=$(readlink "$p")
		case $t in /*) p=$root$t ;; *) p=$(dirname "$p")/$t ;; esac
	done
	[ -e "$p" ] && echo "$p"
}
libdirs=(usr/lib/x86_64-linux-gnu lib/x86_64-linux-gnu usr/lib lib)
find_lib() {
	local d
	for d in "${libdirs[@]}"; do resolve "$root/$d/$1" && return; done
	echo "fetch-qemu: $1 not found in the unpacked closure" >&2
	return 1
}

rm -rf "$out" && mkdir -p "$out/bin" "$out/lib" "$out/share/qemu"
cp "$(resolve "$root/usr/bin/qemu-system-x86_64")" "$out/bin/"
cp "$(find_lib ld-linux-x86-64.so.2)" "$out/lib/ld-linux-x86-64.so.2"

# glibc dlopen()s libgcc_s for pthread_exit()/pthread_cancel() unwinding.
extra=(libgcc_s.so.1)

# DT_NEEDED closure, resolved against the unpacked tree only.
queue=("$out/bin/qemu-system-x86_64")
for l in "${extra[@]}"; do cp "$(find_lib "$l")" "$out/lib/$l"; queue+=("$out/lib/$l"); done
while [ ${#queue[@]} -gt 0 ]; do
	elf=${queue[0]}; queue=("${queue[@]:1}")
	for l in $(readelf -d "$elf" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
		[ -e "$out/lib/$l" ] && continue
		cp "$(find_lib "$l")" "$out/lib/$l"
		queue+=("$out/lib/$l")
	done
done

# Firmware for -kernel/-initrd boots on pc/q35: SeaBIOS (Debian keeps it in
# /usr/share/seabios, on QEMU's built-in firmware path) and option ROMs.
for f in bios-256k.bin linuxboot_dma.bin kvmvapic.bin; do
	p=$(resolve "$root/usr/share/qemu/$f" || resolve "$root/usr/share/seabios/$f") ||
		{ echo "fetch-qemu: firmware $f missing" >&2; exit 1; }
	cp "$p" "$out/share/qemu/$f"
done

cat > "$out/qemu-system-x86_64" <<'WRAP'
#!/bin/sh
# Run the bundled QEMU with its own dynamic loader and libraries.
d=$(cd "$(dirname "$0")" && pwd)
exec "$d/lib/ld-linux-x86-64.so.2" --library-path "$d/lib" \
	"$d/bin/qemu-system-x86_64" -L "$d/share/qemu" "$@"
WRAP
chmod +x "$out/qemu-system-x86_64"
echo "$version" > "$out/VERSION"
echo "$version" > "$out/.done"
echo "fetch-qemu: $out is QEMU $version ($(du -sh "$out" | cut -f1))"
