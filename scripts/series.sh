#!/bin/bash
# Export the project as a mailing-list series against the pristine base
# (git format-patch, with a cover letter from patches/cover-letter), check
# that it applies to the pristine tree, and run checkpatch --strict on every
# patch and on every new C file and kernel-doc -Wall on the new kernel files.
# Fails on any error or warning.  Then scripts/series-build.sh builds and
# checks every prefix of the series (SERIES_BUILD=0 skips that).
#
# usage: series.sh [--files-only] <tree> <out-dir>
set -euo pipefail

files_only=0
if [ "$1" = "--files-only" ]; then files_only=1; shift; fi
tree=$(cd "$1" && pwd)
out=$2
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$tree"

status=0
report() {	# <what> <checkpatch output>
	local sum
	sum=$(printf '%s\n' "$2" | awk '/^total:/ {e += $2; w += $4; c += $6; n++}
		END {printf "%d errors, %d warnings, %d checks in %d files", e, w, c, n}')
	if printf '%s\n' "$2" | grep -qE '^(ERROR|WARNING|CHECK):' ||
	   ! printf '%s\n' "$2" | grep -q '^total:'; then
		printf '%s\n' "$2" | grep -E -A4 '^(ERROR|WARNING|CHECK):' >&2
	fi
	if printf '%s\n' "$2" | grep -qE '^(ERROR|WARNING):' ||
	   ! printf '%s\n' "$2" | grep -q '^total:'; then
		echo "series: $1: $sum" >&2
		status=1
	else
		echo "series: $1: $sum"
	fi
}

# New C files of ours, checked as source files.
new=$(git diff --name-only --diff-filter=A pristine..HEAD -- '*.c' '*.h' |
	grep -v '^tools/testing/' || true)
if [ -n "$new" ]; then
	report "checkpatch --strict -f on new kernel files" \
		"$(perl scripts/checkpatch.pl --no-tree --strict -f $new 2>&1 |
		   grep -vE '^$' ; true)"
fi
if [ -n "$new" ]; then
	kdoc=$(scripts/kernel-doc -none -Wall $new 2>&1 || true)
	if [ -n "$kdoc" ]; then
		echo "$kdoc" >&2
		echo "series: kernel-doc -Wall on new kernel files: problems above" >&2
		status=1
	else
		echo "series: kernel-doc -Wall on new kernel files: clean"
	fi
fi
tests=$(git diff --name-only --diff-filter=A pristine..HEAD -- 'tools/testing/*.c' 'tools/testing/*.h' || true)
if [ -n "$tests" ]; then
	report "checkpatch --strict -f on new test files" \
		"$(perl scripts/checkpatch.pl --no-tree --strict -f $tests 2>&1; true)"
fi
[ "$files_only" = 1 ] && exit $status

rm -rf "$out"
mkdir -p "$out"
{ head -1 "$repo/patches/cover-letter"; echo; tail -n +3 "$repo/patches/cover-letter"; } \
	> "$out/.description"
git config branch.gmem_cma.description "$(cat "$out/.description")"
rm -f "$out/.description"
git format-patch -q --cover-letter --cover-from-description=subject \
	--base=pristine -o "$out" pristine..HEAD
n=$(ls "$out"/*.patch | grep -vc 0000-cover-letter)

# The series applies, in order and without fuzz, to the pristine tree.
export GIT_INDEX_FILE=$tree/.git/series-index
git read-tree pristine
for p in $(ls "$out"/*.patch | grep -v 0000-cover-letter); do
	if ! git apply --cached "$p"; then
		echo "series: $(basename "$p") does not apply to pristine" >&2
		status=1
	fi
done
rm -f "$GIT_INDEX_FILE"
unset GIT_INDEX_FILE

# A patch that adds files in a directory our MAINTAINERS entry covers need
# not touch MAINTAINERS: scripts/maintained.sh answers checkpatch's question.
cp_all=""
for p in $(ls "$out"/*.patch | grep -v 0000-cover-letter); do
	ignore=()
	"$repo/scripts/maintained.sh" "$tree" "$p" && ignore=(--ignore FILE_PATH_CHANGES)
	cp_all="$cp_all
$(perl scripts/checkpatch.pl --strict "${ignore[@]}" "$p" 2>&1; true)"
done
report "checkpatch --strict on the $n patches" "$cp_all"
echo "series: $n patches + cover letter in $out (base: $(cat "$tree/.git/pristine-version"))"
[ "$status" = 0 ] || exit $status

# Every prefix builds and passes the checks above on its own.
if [ "${SERIES_BUILD:-1}" != 0 ]; then
	"$repo/scripts/series-build.sh" "$tree" "$out-build" "$out/prefixes.md" || status=1
fi
exit $status
