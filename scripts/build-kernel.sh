#!/bin/bash
# Configure (tinyconfig + our fragments) and build bzImage in the assembled
# tree, with ccache.  Fails if an option a fragment asks for is missing from
# the final .config (a dependency silently dropped it).
#
# usage: build-kernel.sh <tree> <fragment>...
set -euo pipefail

tree=$1
shift
frags=()
for f in "$@"; do frags+=("$(cd "$(dirname "$f")" && pwd)/$(basename "$f")"); done
cd "$tree"

export KBUILD_BUILD_USER=gmem_cma KBUILD_BUILD_HOST=build
export KBUILD_BUILD_TIMESTAMP="2026-01-01"
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/ccache}
export CCACHE_SLOPPINESS=time_macros,include_file_mtime,include_file_ctime
kmake=(make -s -j"$(nproc)" ARCH=x86_64 CC="ccache gcc" HOSTCC="ccache gcc")

# Build the configuration aside and install it only when it changed, so an
# unchanged configuration never triggers a rebuild.
cfg=.config.gmem_cma.new
KCONFIG_CONFIG=$cfg "${kmake[@]}" tinyconfig >/dev/null
KCONFIG_CONFIG=$cfg scripts/kconfig/merge_config.sh -m -O . "$cfg" "${frags[@]}" >/dev/null
mv .config.gmem_cma.new .config.gmem_cma.merged
KCONFIG_CONFIG=.config.gmem_cma.merged "${kmake[@]}" olddefconfig >/dev/null

missing=0
for f in "${frags[@]}"; do
	while IFS= read -r line; do
		case "$line" in
		CONFIG_*=n) want="# ${line%=n} is not set" ;;
		CONFIG_*) want=$line ;;
		*) continue ;;
		esac
		if ! grep -qxF "$want" .config.gmem_cma.merged; then
			echo "build-kernel: $(basename "$f"): '$line' is not in the final .config" >&2
			missing=1
		fi
	done < "$f"
done
[ "$missing" = 0 ] || exit 1

if ! cmp -s .config.gmem_cma.merged .config; then
	cp .config.gmem_cma.merged .config
fi
rm -f .config.gmem_cma.merged .config.gmem_cma.merged.old
"${kmake[@]}" olddefconfig >/dev/null
"${kmake[@]}" bzImage
echo "build-kernel: $(make -s kernelrelease) $(stat -c %s arch/x86/boot/bzImage) bytes"
