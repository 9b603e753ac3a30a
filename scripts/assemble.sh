#!/bin/bash
# Assemble the kernel tree: the pristine Debian source as the first commit
# (tag "pristine"), then one commit per patch in patches/series, each carrying
# the patch (changes to upstream files, and earlier versions of files of
# ours) plus the final content of the files of ours that patches/files
# assigns to it.  Commits are built in a private index, so a re-run only
# rewrites files whose content changed and make rebuilds only what it must.
#
# usage: assemble.sh <pristine-tree> <version> <build-tree>
set -euo pipefail

pristine=$(cd "$1" && pwd)
version=$2
mkdir -p "$3"; tree=$(cd "$3" && pwd)
repo=$(cd "$(dirname "$0")/.." && pwd)
kernel_dirs="arch Documentation include mm tools virt lib"

die() { echo "assemble: $*" >&2; exit 1; }

fixed_date="2026-01-01T00:00:00Z"
export GIT_COMMITTER_NAME="gmem_cma build" GIT_COMMITTER_EMAIL="gmem_cma@localhost"
export GIT_AUTHOR_NAME="$GIT_COMMITTER_NAME" GIT_AUTHOR_EMAIL="$GIT_COMMITTER_EMAIL"

if [ ! -d "$tree/.git" ] || [ "$(cat "$tree/.git/pristine-version" 2>/dev/null)" != "$version" ]; then
	echo "assemble: importing pristine linux-source $version into $tree"
	rm -rf "$tree"
	mkdir -p "$(dirname "$tree")"
	cp -a "$pristine" "$tree"
	git -C "$tree" init -q -b base
	git -C "$tree" config core.autocrlf false
	git -C "$tree" config gc.auto 0
	git -C "$tree" add -A -f
	GIT_AUTHOR_DATE=$fixed_date GIT_COMMITTER_DATE=$fixed_date \
		git -C "$tree" commit -q -m "Linux $version (Debian linux-source, pristine)"
	git -C "$tree" tag -f pristine >/dev/null
	echo "$version" > "$tree/.git/pristine-version"
fi

cd "$tree"
# New files of ours, and which patch carries each of them.
declare -A owner=()
while read -r p files; do
	case "$p" in ''|'#'*) continue ;; esac
	p=${p%:}
	for f in $files; do
		[ -f "$repo/$f" ] || die "patches/files: $f (for $p) does not exist"
		owner[$f]=$p
	done
done < "$repo/patches/files"
(cd "$repo" && git ls-files --cached --others --exclude-standard -- $kernel_dirs) |
while read -r f; do
	[ -n "${owner[$f]:-}" ] || die "$f is not assigned to a patch in patches/files"
done

export GIT_INDEX_FILE=$tree/.git/assemble-index
git read-tree pristine
parent=$(git rev-parse pristine)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
while read -r p _; do
	case "$p" in ''|'#'*) continue ;; esac
	[ -f "$repo/patches/$p" ] || die "patches/series names $p, which does not exist"
	if grep -q '^diff --git ' "$repo/patches/$p"; then
		git apply --cached --whitespace=error-all "$repo/patches/$p" ||
			die "$p does not apply cleanly to the tree (no fuzz allowed)"
	fi
	for f in "${!owner[@]}"; do
		[ "${owner[$f]}" = "$p" ] || continue
		mode=100644
		[ -x "$repo/$f" ] && mode=100755
		blob=$(git hash-object -w "$repo/$f")
		git update-index --add --cacheinfo "$mode,$blob,$f"
	done
	git mailinfo -b "$tmp/msg" "$tmp/diff" < "$repo/patches/$p" > "$tmp/info"
	subject=$(sed -n 's/^Subject: //p' "$tmp/info")
	author=$(sed -n 's/^Author: //p' "$tmp/info")
	email=$(sed -n 's/^Email: //p' "$tmp/info")
	date=$(sed -n 's/^Date: //p' "$tmp/info")
	{ echo "$subject"; echo; cat "$tmp/msg"; } > "$tmp/commit"
	parent=$(GIT_AUTHOR_NAME=${author:-$GIT_AUTHOR_NAME} \
		 GIT_AUTHOR_EMAIL=${email:-$GIT_AUTHOR_EMAIL} \
		 GIT_AUTHOR_DATE=${date:-$fixed_date} GIT_COMMITTER_DATE=${date:-$fixed_date} \
		 git commit-tree "$(git write-tree)" -p "$parent" -F "$tmp/commit")
done < "$repo/patches/series"
unset GIT_INDEX_FILE

if [ "$(git rev-parse -q --verify HEAD)" != "$parent" ]; then
	if [ -n "$(git status --porcelain --untracked-files=no)" ]; then
		git status --short --untracked-files=no | head >&2
		die "$tree has uncommitted edits; commit them and run 'make refresh', or discard them with 'git -C $tree checkout -f'"
	fi
	git checkout -q -B gmem_cma "$parent"
fi
echo "assemble: $(git rev-list --count pristine..HEAD) commits on top of linux-source $version"
