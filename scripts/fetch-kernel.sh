#!/bin/bash
# Fetch Debian's linux-source-$SERIES package with a project-private apt
# configuration (the host's sources, lists and caches are never touched) and
# unpack the tarball it carries.  Prints the path of the unpacked tree.
#
# usage: fetch-kernel.sh <series> <cache-dir> <build-dir>
#   writes <build-dir>/base-version and <build-dir>/base-tree
set -euo pipefail

series=$1
cache=$2
build=$3
apt_dir=$cache/apt
mkdir -p "$apt_dir/lists/partial" "$apt_dir/archives/partial" "$cache/debs"

# trixie-backports first, sid as a fallback: whichever carries the series.
cat > "$apt_dir/sources.list" <<SRC
deb http://deb.debian.org/debian trixie-backports main
deb http://deb.debian.org/debian sid main
SRC

apt_opts=(
	-o "Dir::Etc::SourceList=$apt_dir/sources.list"
	-o "Dir::Etc::SourceParts=/dev/null"
	-o "Dir::State::Lists=$apt_dir/lists"
	-o "Dir::Cache=$apt_dir"
	-o "Dir::Cache::archives=$apt_dir/archives"
	-o "Dir::State::status=$apt_dir/status"
	-o "APT::Get::List-Cleanup=0"
	-o "Debug::NoLocking=1"
	-o "APT::Sandbox::User=root"
)
touch "$apt_dir/status"

deb=$(ls -t "$cache"/debs/linux-source-"$series"_*.deb 2>/dev/null | head -1 || true)
if [ -z "$deb" ]; then
	echo "fetch-kernel: updating private apt lists in $apt_dir" >&2
	apt-get "${apt_opts[@]}" -qq update >&2
	pkg=linux-source-$series
	ver=$(apt-cache "${apt_opts[@]}" policy "$pkg" | awk '/Candidate:/ {print $2}')
	if [ -z "$ver" ] || [ "$ver" = "(none)" ]; then
		echo "fetch-kernel: no $pkg in trixie-backports or sid" >&2
		exit 1
	fi
	(cd "$cache/debs" && apt-get "${apt_opts[@]}" -qq download "$pkg=$ver" >&2)
	deb=$(ls -t "$cache"/debs/linux-source-"$series"_*.deb | head -1)
fi

version=$(dpkg-deb -f "$deb" Version)
src=$cache/src/linux-source-$version
if [ ! -f "$src/.unpacked" ]; then
	echo "fetch-kernel: unpacking $(basename "$deb")" >&2
	rm -rf "$src" && mkdir -p "$src"
	dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$src" --wildcards '*/linux-source-*.tar.xz'
	tarball=$(find "$src" -name 'linux-source-*.tar.xz' | head -1)
	tar -xJf "$tarball" -C "$src"
	rm -f "$tarball"
	touch "$src/.unpacked"
fi
tree=$(find "$src" -mindepth 1 -maxdepth 4 -name MAINTAINERS -printf '%h\n' | head -1)
mkdir -p "$build"
echo "$version" > "$build/base-version"
echo "$tree" > "$build/base-tree"
echo "fetch-kernel: base is Debian linux-source-$series $version ($(basename "$deb"))"
