#!/bin/bash
# Move code that a patch needs out of the earlier patches of the series,
# so that each prefix holds only what its patches introduce.
#
# Check commit K-1 of the assembled series out in a scratch worktree (the
# commit before the patch that introduces some code), take that code out
# of the files of ours there (or delete a file that belongs to patch K or
# later), check that the worktree builds, then run this script: every
# commit before K gets the worktree's version of each file of ours it has,
# and commit K and the later ones keep their trees, so patch K (re)adds
# what was taken out.  Refuses when a file changed between the commit that
# added it and K-1 (the edit would belong to several patches).
#
# usage: peel.sh <tree> <K> <worktree>
set -euo pipefail

tree=$(cd "$1" && pwd)
k=$2
wt=$(cd "$3" && pwd)
die() { echo "peel: $*" >&2; exit 1; }
cd "$tree"

[ -z "$(git status --porcelain --untracked-files=no)" ] || die "$tree has uncommitted changes"
mapfile -t commits < <(git rev-list --reverse pristine..HEAD)
n=${#commits[@]}
[ "$k" -ge 2 ] && [ "$k" -le "$n" ] || die "K must be in 2..$n"
prev=${commits[$((k - 2))]}
[ "$(git -C "$wt" rev-parse HEAD)" = "$prev" ] ||
	die "$wt is not at commit $((k - 1)) ($(git log -1 --format=%h "$prev"))"

# The files of ours that the worktree changed, deleted or added.
mapfile -t changed < <(git -C "$wt" status --porcelain --untracked-files=all | cut -c4-)
[ ${#changed[@]} -gt 0 ] || die "nothing changed in $wt"
for f in "${changed[@]}"; do
	git cat-file -e "pristine:$f" 2>/dev/null &&
		die "$f is an upstream file: change it in the patch that changes it"
	# Unchanged from the commit that added it up to K-1?
	intro=$(git log --format=%H --diff-filter=A pristine.."$prev" -- "$f" | tail -1)
	[ -z "$intro" ] && continue	# a new file: added to no commit before K
	changes=$(git rev-list --count "$intro".."$prev" -- "$f")
	[ "$changes" = 0 ] || die "$f changes after the commit that adds it; split that by hand"
done

export GIT_INDEX_FILE=$tree/.git/peel-index
trap 'rm -f "$GIT_INDEX_FILE"' EXIT
parent=$(git rev-parse pristine)
for i in $(seq 0 $((n - 1))); do
	c=${commits[$i]}
	git read-tree "$c"
	if [ "$i" -lt $((k - 1)) ]; then
		for f in "${changed[@]}"; do
			git cat-file -e "$c:$f" 2>/dev/null || continue
			if [ -e "$wt/$f" ]; then
				mode=100644
				[ -x "$wt/$f" ] && mode=100755
				blob=$(git hash-object -w "$wt/$f")
				git update-index --add --cacheinfo "$mode,$blob,$f"
			else
				git update-index --force-remove "$f"
			fi
		done
	fi
	parent=$(GIT_AUTHOR_NAME="$(git log -1 --format=%an "$c")" \
		 GIT_AUTHOR_EMAIL="$(git log -1 --format=%ae "$c")" \
		 GIT_AUTHOR_DATE="$(git log -1 --format=%aD "$c")" \
		 GIT_COMMITTER_DATE="$(git log -1 --format=%cD "$c")" \
		 git commit-tree "$(git write-tree)" -p "$parent" -m "$(git log -1 --format=%B "$c")")
done
[ "$(git rev-parse "$parent^{tree}")" = "$(git rev-parse "HEAD^{tree}")" ] ||
	die "internal error: the last tree changed"
git update-ref -m "peel: patch $k" HEAD "$parent"
git reset -q --hard HEAD
echo "peel: commits 1..$((k - 1)) now have ${#changed[@]} file(s) as in $wt; patch $k adds the rest"
