#!/bin/bash
# checkpatch asks "does MAINTAINERS need updating?" of every patch that
# adds, moves or deletes a file without touching MAINTAINERS.  Answer it:
# exit 0 when every file the patch adds or deletes is already covered by
# an entry whose maintainer (M:) the series added to MAINTAINERS in
# <tree> (checked out at or after the patch), so the question is moot and
# FILE_PATH_CHANGES may be ignored for it; exit 1 otherwise.
#
# usage: maintained.sh <tree> <patch-file>
set -euo pipefail

tree=$(cd "$1" && pwd)
patch=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
cd "$tree"

mapfile -t ours < <(git diff pristine HEAD -- MAINTAINERS | sed -n 's/^+M:\t*//p')
[ ${#ours[@]} -gt 0 ] || exit 1
mapfile -t files < <(awk '/^diff --git / { f = $4; sub("^b/", "", f) }
			 /^(new|deleted) file mode/ { print f }' "$patch")
[ ${#files[@]} -gt 0 ] || exit 1
for f in "${files[@]}"; do
	[ -e "$f" ] || exit 1
	who=$(perl scripts/get_maintainer.pl --no-git --no-git-fallback --nol \
		--no-rolestats -f "$f" 2>/dev/null) || exit 1
	grep -qxFf <(printf '%s\n' "${ours[@]}") <<< "$who" || exit 1
done
exit 0
