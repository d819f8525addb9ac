#!/usr/bin/env bash
# serve_rss.sh BIN [BODY…]: the peak RSS of `ocsfmap serve` under hostile
# bodies (issue 20). For each body, N (default 8) clients POST it at once,
# gzip-compressed (16 MiB inflated), to a serve whose S3 is unreachable;
# prints the answers, the process's VmHWM and the data folder's size.
# Bodies: objs ([{},…]), ones ([1,…]), deep ([[[…), longline (16 MiB of
# junk), longalert (one valid 16 MiB alert), ctrl (1,000 lines of control
# bytes), ndjsonobjs ({} lines). Extra serve flags go in SERVE_FLAGS.
set -eu # not pipefail: yes | head ends yes with SIGPIPE
bin=$1; shift
bodies=${*:-objs ones deep longline longalert ctrl ndjsonobjs}
mapping=$(cd "$(dirname "$0")/../.." && pwd)/mappings/zscaler-dspm/security_finding_1.1.0.yaml
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
size=$((16 << 20))
body() { # body NAME > uncompressed bytes
  case $1 in
  objs) { printf '['; yes '{},' | tr -d '\n' | head -c $((size - 4)); printf '{}]'; } ;;
  ones) { printf '['; yes '1,' | tr -d '\n' | head -c $((size - 3)); printf '1]'; } ;;
  deep) head -c "$size" /dev/zero | tr '\0' '[' ;;
  longline) head -c "$size" /dev/zero | tr '\0' 'x' ;;
  longalert) { printf '{"a":"'; head -c $((size - 11)) /dev/zero | tr '\0' 'x'; printf '"}'; } ;;
  ctrl) for _ in $(seq 1000); do head -c 16383 /dev/zero | tr '\0' '\001'; echo; done ;;
  ndjsonobjs) yes '{}' | head -c "$size" ;;
  *) echo "unknown body $1" >&2; exit 2 ;;
  esac
}
cat > "$work/dspm.yaml" <<Y
name: dspm
destination: amazon-security-lake
mapping: $mapping
role_arn: arn:aws:iam::444455556666:role/AmazonSecurityLake-Provider-dspmalerts-us-east-2
external_id: rss-external-id-0001
bucket: aws-security-data-lake-us-east-2-rss
region: us-east-2
prefix: ext/dspmalerts/
Y
export AWS_ACCESS_KEY_ID=AKIARSS AWS_SECRET_ACCESS_KEY=x AWS_REGION=us-east-2 AWS_EC2_METADATA_DISABLED=true \
  AWS_ENDPOINT_URL_S3=http://127.0.0.1:1 AWS_ENDPOINT_URL_STS=http://127.0.0.1:1 AWS_CONFIG_FILE=/dev/null \
  AWS_SHARED_CREDENTIALS_FILE=/dev/null OCSFMAP_INGEST_TOKEN=rss-token-0123456789
for b in $bodies; do
  body "$b" | gzip -1 > "$work/$b.gz"
  port=$((20000 + RANDOM % 20000))
  rm -rf "$work/data"
  # shellcheck disable=SC2086
  "$bin" serve -c "$work/dspm.yaml" --data "$work/data" --listen 127.0.0.1:$port ${SERVE_FLAGS:-} 2>"$work/log" &
  pid=$!
  for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/healthz" && break; sleep 0.1; done
  codes=$(for _ in $(seq "${N:-8}"); do
    curl -s -o /dev/null -w '%{http_code} ' -m 600 -H 'Authorization: Bearer rss-token-0123456789' \
      -H 'Content-Encoding: gzip' --data-binary "@$work/$b.gz" "http://127.0.0.1:$port/v1/integrations/dspm/alerts" &
  done; wait)
  echo "$b: answers $codes peak RSS $(awk '/VmHWM/{print $2}' /proc/$pid/status) kB, data $(du -sk "$work/data/dspm" | cut -f1) kB"
  kill "$pid"; wait "$pid" 2>/dev/null || true
done
