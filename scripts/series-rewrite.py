#!/usr/bin/env python3
"""Rewrite files in a range of commits of the assembled series.

For every commit N (1-based, counted from "pristine") with FROM <= N <= TO,
pipe the commit's version of FILE through a shell filter (stdin to stdout)
or delete it, and record the result; the commits outside the range keep
their trees, so the first commit after the range (re)introduces whatever
the filter took out.  With --append, a new last commit is added whose tree
is the old HEAD's, with the message from the given file.  Rewrites the
current branch of TREE (which must be clean); prints old and new trees.

usage: series-rewrite.py TREE FROM TO FILE (--filter CMD | --delete)
                         [--append MSGFILE] [--reword N MSGFILE]...
A filter of "cat" with --reword only changes commit N's message.
"""
import argparse
import os
import subprocess
import sys
import tempfile


def git(tree, *args, inp=None, env=None):
    return subprocess.run(["git", "-C", tree, *args], input=inp, env=env,
                          check=True, capture_output=True).stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("tree")
    ap.add_argument("first", type=int)
    ap.add_argument("last", type=int)
    ap.add_argument("file")
    ap.add_argument("--filter")
    ap.add_argument("--delete", action="store_true")
    ap.add_argument("--append")
    ap.add_argument("--reword", nargs=2, action="append", default=[])
    a = ap.parse_args()
    if bool(a.filter) == a.delete:
        sys.exit("series-rewrite: give exactly one of --filter and --delete")
    t = a.tree
    if git(t, "status", "--porcelain", "--untracked-files=no").strip():
        sys.exit(f"series-rewrite: {t} has uncommitted changes")
    commits = git(t, "rev-list", "--reverse", "pristine..HEAD").decode().split()
    head_tree = git(t, "rev-parse", "HEAD^{tree}").decode().strip()
    fd, index = tempfile.mkstemp(prefix="rewrite-index")
    os.close(fd)
    env = dict(os.environ, GIT_INDEX_FILE=index)
    parent = git(t, "rev-parse", "pristine").decode().strip()
    try:
        for n, c in enumerate(commits, 1):
            git(t, "read-tree", c, env=env)
            if a.first <= n <= a.last:
                try:
                    old = git(t, "show", f"{c}:{a.file}")
                except subprocess.CalledProcessError:
                    old = None
                if old is not None and a.delete:
                    git(t, "update-index", "--force-remove", a.file, env=env)
                elif old is not None:
                    new = subprocess.run(a.filter, shell=True, input=old,
                                         check=True, capture_output=True).stdout
                    mode = git(t, "ls-tree", c, "--", a.file).split()[0].decode()
                    blob = git(t, "hash-object", "-w", "--stdin", inp=new).decode().strip()
                    git(t, "update-index", "--cacheinfo", f"{mode},{blob},{a.file}", env=env)
            tree = git(t, "write-tree", env=env).decode().strip()
            meta = git(t, "log", "-1", "--format=%an%x00%ae%x00%ad%x00%cn%x00%ce%x00%cd", c).decode()
            an, ae, ad, cn, ce, cd = meta.rstrip("\n").split("\0")
            cenv = dict(os.environ, GIT_AUTHOR_NAME=an, GIT_AUTHOR_EMAIL=ae, GIT_AUTHOR_DATE=ad,
                        GIT_COMMITTER_NAME=cn, GIT_COMMITTER_EMAIL=ce, GIT_COMMITTER_DATE=cd)
            msg = git(t, "log", "-1", "--format=%B", c)
            for rn, rfile in a.reword:
                if int(rn) == n:
                    with open(rfile, "rb") as f:
                        msg = f.read()
            parent = git(t, "commit-tree", tree, "-p", parent, inp=msg, env=cenv).decode().strip()
            print(f"{n:4d} {git(t, 'rev-parse', c + '^{tree}').decode().strip()[:12]}"
                  f" -> {tree[:12]}")
        if a.append:
            with open(a.append, "rb") as f:
                msg = f.read()
            cenv = dict(os.environ, GIT_AUTHOR_NAME=an, GIT_AUTHOR_EMAIL=ae,
                        GIT_COMMITTER_NAME=cn, GIT_COMMITTER_EMAIL=ce)
            parent = git(t, "commit-tree", head_tree, "-p", parent, inp=msg,
                         env=cenv).decode().strip()
            print(f"   + appended commit with the old HEAD's tree {head_tree[:12]}")
        git(t, "reset", "-q", "--hard", parent)
    finally:
        os.unlink(index)


if __name__ == "__main__":
    main()
