#!/usr/bin/env bash
# Installs the AWS Lambda Runtime Interface Emulator (Apache-2.0) into DIR/bin
# for the cmd/ocsfmap-lambda tests, which run the real bootstrap under it.
# Kept out of go.mod and pinned by pseudo-version: the project's tagged
# releases are not served to our machines, the module proxy is.
set -euo pipefail
dir=${1:?usage: tools-rie.sh DIR}
version=v0.0.0-20261030222936-bef5c4ba774d
mkdir -p "$dir/bin"
dir=$(cd "$dir" && pwd)
bin="$dir/bin/aws-lambda-rie"
stamp="$dir/bin/.aws-lambda-rie-$version"
if [[ -x "$bin" && -e "$stamp" ]]; then
	exit 0
fi
echo "installing aws-lambda-rie $version into $dir/bin (first time only)" >&2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# GOFLAGS=-mod=mod and GOWORK=off keep any surrounding go.mod/go.work out of it.
(cd "$tmp" && GOWORK=off GOFLAGS=-mod=mod GOBIN="$dir/bin" go install "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@$version")
rm -f "$dir"/bin/.aws-lambda-rie-*
touch "$stamp"
