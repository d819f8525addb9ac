#!/usr/bin/env bash
# Installs two Parquet readers independent of arrow-go into DIR/readers, for
# the engine/lake tests (engine/lake/readertest): arrow-rs compiled to wasm
# (npm parquet-wasm, MIT/Apache-2.0) and polars (npm nodejs-polars, MIT;
# 0.25.2 is the last release with a linux-x64-gnu binary on npm). The
# Parquet encoder is ours, so its files must read the same everywhere. Kept
# out of go.mod; pinned by version; runs on Node 20. Takes a few seconds.
set -euo pipefail
dir=${1:?usage: tools-readers.sh DIR}
wasm=0.7.1
polars=0.25.2
mkdir -p "$dir/readers"
dir=$(cd "$dir" && pwd)
mods="$dir/readers/node_modules"
if grep -qs "\"version\": \"$wasm\"" "$mods/parquet-wasm/package.json" &&
	grep -qs "\"version\": \"$polars\"" "$mods/nodejs-polars/package.json" &&
	grep -qs "\"version\": \"$polars\"" "$mods/nodejs-polars-linux-x64-gnu/package.json"; then
	exit 0
fi
command -v npm >/dev/null || { echo "tools-readers.sh: npm (Node.js >= 20) is required" >&2; exit 1; }
echo "installing parquet-wasm $wasm, nodejs-polars $polars into $dir/readers" >&2
npm install --prefix "$dir/readers" --no-audit --no-fund --loglevel=error \
	"parquet-wasm@$wasm" "nodejs-polars@$polars" "nodejs-polars-linux-x64-gnu@$polars"
