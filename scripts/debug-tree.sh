#!/bin/bash
# The tree of the debug kernel ("make stress"): a git worktree of the
# assembled tree, checked out at its HEAD.  kbuild refuses O= next to an
# in-tree build, so the debug kernel builds in place here, with its own
# .config and objects, and the normal kernel is not rebuilt.  Checking out a
# new HEAD rewrites only the files that changed, so make (and ccache, shared
# with the normal build) redo only what they must.  Only committed changes
# of the assembled tree are seen.
#
# usage: debug-tree.sh <tree> <debug-tree>
set -euo pipefail

tree=$(cd "$1" && pwd)
debug=$(realpath -m "$2")
head=$(git -C "$tree" rev-parse HEAD)

# After a new pristine import (assemble.sh starts the tree again), an old
# worktree belongs to a repository that is gone: start it again too.
if [ -e "$debug" ]; then
	common=$(git -C "$debug" rev-parse --path-format=absolute --git-common-dir 2>/dev/null || true)
	if [ -z "$common" ] || [ "$(realpath "$common")" != "$(realpath "$tree/.git")" ]; then
		echo "debug-tree: $debug is not a worktree of $tree: making it again"
		rm -rf "$debug"
	fi
fi
git -C "$tree" worktree prune
if [ ! -e "$debug" ]; then
	git -C "$tree" worktree add -q --detach "$debug" "$head"
fi
git -C "$debug" checkout -q -f --detach "$head"
echo "debug-tree: $debug at $(git -C "$debug" log -1 --format='%h %s' HEAD)"
