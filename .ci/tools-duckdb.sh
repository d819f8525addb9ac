#!/usr/bin/env bash
# Installs DuckDB's Node client (MIT, @duckdb/node-api; prebuilt binaries for
# linux-x64, runs on Node 20) into DIR/duckdb for the engine/lake interop test,
# which reads the Parquet files ocsfmap writes the way users do. Kept out of
# go.mod; pinned by version. Takes a few seconds.
set -euo pipefail
dir=${1:?usage: tools-duckdb.sh DIR}
version=1.5.6-r.1
mkdir -p "$dir/duckdb"
dir=$(cd "$dir" && pwd)
pkg="$dir/duckdb/node_modules/@duckdb/node-api/package.json"
if [[ -f "$pkg" ]] && grep -q "\"version\": \"$version\"" "$pkg"; then
	exit 0
fi
command -v npm >/dev/null || { echo "tools-duckdb.sh: npm (Node.js >= 20) is required" >&2; exit 1; }
echo "installing @duckdb/node-api $version into $dir/duckdb" >&2
npm install --prefix "$dir/duckdb" --no-audit --no-fund --loglevel=error "@duckdb/node-api@$version"
