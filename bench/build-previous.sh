#!/bin/sh
# Compiles an earlier commit into a directory of its own, for `bench:engine -- --previous <dir>/dist`
# `bench:mqtt -- --previous <dir>/dist` and `bench:cluster -- --previous <dir>/dist`: the previous design measured in the same run as the current one.
# Usage: bench/build-previous.sh [commit] [dir]   (default: d21383b, the tree before issue 15's work; /tmp/edgelstm-previous)
set -eu
commit=${1:-d21383b}
dir=${2:-/tmp/edgelstm-previous}
root=$(git rev-parse --show-toplevel)
rm -rf "$dir"
mkdir -p "$dir"
git -C "$root" archive "$commit" | tar -x -C "$dir"
ln -s "$root/node_modules" "$dir/node_modules"
(cd "$dir" && npx tsc -p tsconfig.json)
echo "$dir/dist"
