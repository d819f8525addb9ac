#!/usr/bin/env bash
# Installs the programs the tests start or drive, all kept out of go.mod, into
# the folder given: versitygw (a real S3-compatible server) and DuckDB's Node
# client (reads our Parquet the way users do). Each step is a no-op once done.
set -euo pipefail
dir=${1:?usage: tools.sh DIR}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$dir/bin"
"$here/tools-versitygw.sh" "$dir"
"$here/tools-duckdb.sh" "$dir"
"$here/tools-readers.sh" "$dir"
"$here/tools-chromium.sh"
"$here/tools-rie.sh" "$dir"
