#!/bin/bash
# The reverse of assemble.sh: turn the commits on top of "pristine" in the
# assembled tree back into patches/ (one patch per commit, written to
# patches/series) and our new files (copied to their kernel paths in this
# repo).  A file of ours is listed in patches/files with the last patch that
# changes it, which assemble.sh gives its final content from the repo; the
# earlier patches that add or change it carry those earlier versions as
# diffs, so every patch of the series builds on its own.
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
echo "# <patch>: <files of ours whose final content the patch carries (from their kernel paths)>" \
	> "$repo/patches/files"

# The last commit that changes each file of ours.
declare -A last=()
for c in $(git rev-list --reverse pristine..HEAD); do
	while read -r f; do
		git cat-file -e "pristine:$f" 2>/dev/null || last[$f]=$c
	done < <(git diff-tree --no-commit-id --no-renames --name-only -r --diff-filter=AM "$c")
done

n=0
for c in $(git rev-list --reverse pristine..HEAD); do
	n=$((n + 1))
	# upstream: what the patch carries (upstream files, and earlier
	# versions of ours); ours: files whose final content it carries.
	upstream=() ours=()
	while read -r f; do
		if git cat-file -e "pristine:$f" 2>/dev/null || [ "${last[$f]}" != "$c" ]; then
			upstream+=("$f")
		else
			ours+=("$f")
		fi
	done < <(git diff-tree --no-commit-id --no-renames --name-only -r --diff-filter=AM "$c")
	name=$(git log -1 --format=%f "$c" | cut -c1-52)
	name=$(printf '%04d-%s.patch' "$n" "$name")
	# An empty pathspec would mean "everything": use a pattern that
	# matches nothing when the commit only adds files of ours.
	[ ${#upstream[@]} -gt 0 ] || upstream=(":(exclude)*")
	git format-patch -1 --stdout --no-signature --zero-commit --stat=80 \
		"$c" -- "${upstream[@]}" > "$repo/patches/$name"
	# A commit whose every file is one of ours at its final content has
	# no diff left: keep its header and message (assemble.sh applies none).
	if [ ! -s "$repo/patches/$name" ]; then
		{ git format-patch -1 --stdout --no-signature --zero-commit --no-stat "$c" |
			sed '/^diff --git /,$d'; echo "---"; } > "$repo/patches/$name"
	fi
	echo "$name" >> "$repo/patches/series"
	for f in "${ours[@]}"; do
		mkdir -p "$repo/$(dirname "$f")"
		git show "$c:$f" > "$repo/$f"
		if [ "$(git ls-tree "$c" -- "$f" | cut -c1-6)" = 100755 ]; then
			chmod +x "$repo/$f"
		fi
	done
	echo "$name: ${ours[*]}" >> "$repo/patches/files"
done
echo "refresh: wrote $n patches to $repo/patches"
