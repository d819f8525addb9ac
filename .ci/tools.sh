#!/usr/bin/env bash
# Installs the programs the tests start (kept out of go.mod) into the folder given.
set -euo pipefail
dir=${1:?usage: tools.sh DIR}
mkdir -p "$dir/bin"
