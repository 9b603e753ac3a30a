#!/bin/bash
# Bisectability of the series: every prefix of it, applied to pristine,
# must build and pass the checks a maintainer runs.  For each commit on
# top of "pristine" in the assembled tree, in order, in a scratch worktree
# (incremental builds, ccache, one output directory per configuration):
#   - the slim test kernel (tinyconfig + configs/slim-x86_64.config +
#     configs/gmem_cma.config; options a prefix does not have yet are left
#     out), the same with CONFIG_GMEM_CMA=n, and allnoconfig: each must
#     build without a warning (any "warning:" or "WARNING:" line fails);
#   - checkpatch.pl --strict on the patch (FILE_PATH_CHANGES ignored when
#     scripts/maintained.sh finds every added file covered by our entry);
#   - kernel-doc -Wall on the new kernel files the prefix has;
#   - get_abi.py validate: no complaint naming gmem_cma.
# Prints a table, one row per patch, and stops at the first patch that
# fails (its logs stay in <work-dir>/logs).  Pristine itself is built
# first: its warnings, if any, are the baseline a patch must not add to.
#
# usage: series-build.sh <tree> <work-dir> <table-file>
#   SERIES_CONFIGS   the configurations to build (default "slim nogmem
#                    allno")
#   SERIES_KEEP_GOING=1  go on past a failing patch (the table then shows
#                    every patch that breaks; the result is still a failure)
#   SERIES_FROM=N    check patches N and later only, when the earlier ones
#                    passed in an earlier run in the same <work-dir>: its
#                    pristine logs are the baseline and its output
#                    directories are rebuilt incrementally from there
set -euo pipefail

tree=$(cd "$1" && pwd)
mkdir -p "$2"
work=$(cd "$2" && pwd)
table=$3
repo=$(cd "$(dirname "$0")/.." && pwd)
wt=$work/tree
logs=$work/logs
configs=${SERIES_CONFIGS:-slim nogmem allno}
mkdir -p "$logs"

export KBUILD_BUILD_USER=gmem_cma KBUILD_BUILD_HOST=build
export KBUILD_BUILD_TIMESTAMP="2026-01-01"
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/ccache}
export CCACHE_SLOPPINESS=time_macros,include_file_mtime,include_file_ctime
kmake=(make -s -j"$(nproc)" ARCH=x86_64 CC="ccache gcc" HOSTCC="ccache gcc")

if [ ! -e "$wt/.git" ]; then
	rm -rf "$wt"
	git -C "$tree" worktree prune
	git -C "$tree" worktree add -q --detach "$wt" pristine
fi

# configure <name>: (re)write <work>/<name>/.config for the checked-out
# commit; touched only when it changes, so unchanged prefixes rebuild little.
configure() {
	local name=$1 out=$work/$1 new
	mkdir -p "$out"
	new=$out/.config.series
	case "$name" in
	allno)
		KCONFIG_CONFIG=$new "${kmake[@]}" -C "$wt" O="$out" allnoconfig >/dev/null
		;;
	slim|nogmem)
		KCONFIG_CONFIG=$new "${kmake[@]}" -C "$wt" O="$out" tinyconfig >/dev/null
		local frags=("$repo/configs/slim-x86_64.config" "$repo/configs/gmem_cma.config")
		if [ "$name" = nogmem ]; then
			echo "# CONFIG_GMEM_CMA is not set" > "$out/nogmem.config"
			frags+=("$out/nogmem.config")
		fi
		(cd "$out" && KCONFIG_CONFIG=$new "$wt/scripts/kconfig/merge_config.sh" -m -O . \
			"$new" "${frags[@]}" >/dev/null)
		KCONFIG_CONFIG=$new "${kmake[@]}" -C "$wt" O="$out" olddefconfig >/dev/null
		;;
	esac
	if ! cmp -s "$new" "$out/.config"; then
		cp "$new" "$out/.config"
	fi
	rm -f "$new" "$new.old"
	"${kmake[@]}" -C "$wt" O="$out" olddefconfig >/dev/null
}

# build <name> <log>: prints "<seconds> <warnings>"; fails if make fails.
build() {
	local name=$1 log=$2 t0 rc=0 target=bzImage
	t0=$(date +%s)
	configure "$name" > "$log" 2>&1 || return 1
	"${kmake[@]}" -C "$wt" O="$work/$name" $target >> "$log" 2>&1 || rc=$?
	echo "$(($(date +%s) - t0)) $(warnings "$log")"
	return $rc
}

# warnings <log>: the warning lines of a build log
warnings() {
	grep -cE '(^|[^a-z])(warning|WARNING):' "$1" || true
}

# cell <config> <commit-label>: build, print a table cell; 1 on failure
# (a failed build, or more warnings than pristine's build had).  Runs in a
# subshell: pristine's count is read back from its log.
cell() {
	local name=$1 label=$2 log=$logs/$2-$1.log res s w
	if ! res=$(build "$name" "$log"); then
		echo "FAILED"
		return 1
	fi
	read -r s w <<< "$res"
	if [ "$label" != pristine ] && [ "$w" -gt "$(warnings "$logs/pristine-$name.log")" ]; then
		echo "$w warnings"
		return 1
	fi
	echo "ok, ${s} s"
}

t_start=$(date +%s)
{
	echo "| # | patch | $(for c in $configs; do printf '%s | ' "$c"; done)checkpatch | kernel-doc | ABI |"
	echo "|---|---|$(for c in $configs; do printf -- '---|'; done)---|---|---|"
} > "$table"

from=${SERIES_FROM:-1}
# With SERIES_FROM the worktree stays where the earlier run left it, so
# that only what the later patches change is rebuilt.
[ "$from" -gt 1 ] || git -C "$wt" checkout -q --detach pristine
row="| 0 | pristine 7.2 |"
for c in $configs; do
	if [ "$from" -gt 1 ] && [ -e "$logs/pristine-$c.log" ]; then
		v="earlier run"
	elif ! v=$(cell "$c" pristine); then
		echo "series-build: pristine does not build ($c): $logs/pristine-$c.log" >&2
		exit 1
	fi
	row="$row $v |"
done
echo "$row - | - | - |" | tee -a "$table"
abi_dir=$work/abi-pristine
rm -rf "$abi_dir" && mkdir -p "$abi_dir"
git -C "$tree" archive pristine Documentation/ABI | tar -x -C "$abi_dir"
abi_base=$(cd "$wt" && python3 tools/docs/get_abi.py -D "$abi_dir/Documentation/ABI" validate 2>&1 |
	   wc -l)

n=0
status=0
for commit in $(git -C "$tree" rev-list --reverse pristine..HEAD); do
	n=$((n + 1))
	[ "$n" -ge "$from" ] || continue
	label=$(printf '%04d' "$n")
	subject=$(git -C "$tree" log -1 --format=%s "$commit")
	git -C "$wt" checkout -q --detach "$commit"
	row="| $n | $subject |"
	fail=
	for c in $configs; do
		if ! v=$(cell "$c" "$label"); then
			fail="$fail $c"
		fi
		row="$row $v |"
	done
	(cd "$wt" && git format-patch -1 --stdout "$commit") > "$logs/$label.patch"
	ignore=()
	"$repo/scripts/maintained.sh" "$wt" "$logs/$label.patch" && ignore=(--ignore FILE_PATH_CHANGES)
	cp=$(cd "$wt" && perl scripts/checkpatch.pl --strict "${ignore[@]}" "$logs/$label.patch" 2>&1 |
	     tee "$logs/$label-checkpatch.log" |
	     sed -n 's/^total: \([0-9]*\) errors, \([0-9]*\) warnings, \([0-9]*\) checks.*/\1 \2 \3/p')
	if [ "$cp" = "0 0 0" ]; then
		row="$row clean |"
	else
		row="$row ${cp:-no result} (e w c) |"
		fail="$fail checkpatch"
	fi
	new=$(cd "$wt" && git diff --name-only --diff-filter=A pristine HEAD -- '*.c' '*.h' |
	      grep -v '^tools/testing/' || true)
	kdoc=""
	[ -z "$new" ] || kdoc=$(cd "$wt" && scripts/kernel-doc -none -Wall $new 2>&1 || true)
	if [ -z "$kdoc" ]; then
		row="$row clean |"
	else
		printf '%s\n' "$kdoc" > "$logs/$label-kernel-doc.log"
		row="$row $(printf '%s\n' "$kdoc" | wc -l) lines |"
		fail="$fail kernel-doc"
	fi
	abi=$(cd "$wt" && python3 tools/docs/get_abi.py -D Documentation/ABI validate 2>&1 |
	      tee "$logs/$label-abi.log")
	if printf '%s\n' "$abi" | grep -q gmem_cma ||
	   [ "$(printf '%s\n' "$abi" | wc -l)" -gt "$abi_base" ]; then
		row="$row complaints |"
		fail="$fail ABI"
	else
		row="$row clean |"
	fi
	echo "$row" | tee -a "$table"
	if [ -n "$fail" ]; then
		echo "series-build: patch $n ($subject) breaks:$fail; logs in $logs/$label-*" >&2
		status=1
		[ "${SERIES_KEEP_GOING:-0}" = 1 ] || break
	fi
done
echo "series-build: $n of $(git -C "$tree" rev-list --count pristine..HEAD) patches checked" \
	"in $((($(date +%s) - t_start) / 60)) min; table in $table"
exit $status
