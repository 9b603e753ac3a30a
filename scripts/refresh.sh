#!/bin/bash
# The reverse of assemble.sh: turn the commits on top of "pristine" in the
# assembled tree back into patches/ (changes to upstream files, one patch per
# commit, written to patches/series) and our new files (copied to their
# kernel paths in this repo, listed in patches/files with the first patch
# that adds or changes them: assemble.sh gives each file one patch, which
# carries its final content).
#
# usage: refresh.sh <build-tree>
set -euo pipefail

tree=$(cd "$1" && pwd)
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$tree"

if [ -n "$(git status --porcelain --untracked-files=no)" ]; then
	echo "refresh: $tree has uncommitted changes; commit them first" >&2
	exit 1
fi

# Our files are copied back from the tree: refuse if that would overwrite
# edits made in this repo that the tree does not have (assemble first).
lost=()
while read -r f; do
	git cat-file -e "pristine:$f" 2>/dev/null && continue
	[ -f "$repo/$f" ] || continue
	git -C "$repo" diff --quiet HEAD -- "$f" 2>/dev/null && continue
	[ "$(git hash-object "$repo/$f")" = "$(git rev-parse "HEAD:$f")" ] && continue
	lost+=("$f")
done < <(git diff --name-only pristine HEAD)
if [ ${#lost[@]} -gt 0 ]; then
	echo "refresh: uncommitted edits in $repo that $tree does not have" \
		"(make assemble first, or commit them): ${lost[*]}" >&2
	exit 1
fi

rm -f "$repo"/patches/*.patch
{
	echo "# quilt-style series: one patch per line, applied in order with -p1"
	echo "# (written by 'make refresh' from the assembled tree)"
} > "$repo/patches/series"
echo "# <patch>: <new files of ours that the patch adds, at their kernel paths>" \
	> "$repo/patches/files"

n=0
declare -A listed=()
for c in $(git rev-list --reverse pristine..HEAD); do
	n=$((n + 1))
	upstream=() ours=()
	while read -r f; do
		if git cat-file -e "pristine:$f" 2>/dev/null; then
			upstream+=("$f")
		else
			ours+=("$f")
		fi
	done < <(git diff-tree --no-commit-id --name-only -r --diff-filter=AM "$c")
	name=$(git log -1 --format=%f "$c" | cut -c1-52)
	name=$(printf '%04d-%s.patch' "$n" "$name")
	# An empty pathspec would mean "everything": use a pattern that
	# matches nothing when the commit only adds files of ours.
	[ ${#upstream[@]} -gt 0 ] || upstream=(":(exclude)*")
	git format-patch -1 --stdout --no-signature --zero-commit --stat=80 \
		"$c" -- "${upstream[@]}" > "$repo/patches/$name"
	echo "$name" >> "$repo/patches/series"
	for f in "${ours[@]}"; do
		mkdir -p "$repo/$(dirname "$f")"
		git show "$c:$f" > "$repo/$f"
		if [ "$(git ls-tree "$c" -- "$f" | cut -c1-6)" = 100755 ]; then
			chmod +x "$repo/$f"
		fi
	done
	first=()
	for f in "${ours[@]}"; do
		[ -n "${listed[$f]:-}" ] && continue
		listed[$f]=1
		first+=("$f")
	done
	echo "$name: ${first[*]}" >> "$repo/patches/files"
done
echo "refresh: wrote $n patches to $repo/patches"
