#!/usr/bin/env bash
# Installs versitygw (Apache-2.0, an S3-compatible server that enforces SigV4)
# into DIR/bin for the engine/store tests. Kept out of go.mod: it is built in a
# throw-away module-less folder, pinned by version.
set -euo pipefail
dir=${1:?usage: tools-versitygw.sh DIR}
version=v1.8.0
mkdir -p "$dir/bin"
dir=$(cd "$dir" && pwd)
bin="$dir/bin/versitygw"
stamp="$dir/bin/.versitygw-$version"
if [[ -x "$bin" && -e "$stamp" ]]; then
	exit 0
fi
echo "installing versitygw $version into $dir/bin (first time only, takes a few minutes)" >&2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# GOFLAGS=-mod=mod and GOWORK=off keep any surrounding go.mod/go.work out of it.
(cd "$tmp" && GOWORK=off GOFLAGS=-mod=mod GOBIN="$dir/bin" go install "github.com/versity/versitygw/cmd/versitygw@$version")
rm -f "$dir"/bin/.versitygw-*
touch "$stamp"
