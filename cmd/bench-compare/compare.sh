#!/usr/bin/env bash
# make bench-compare: `ocsfmap run` and DuckDB doing the same mapping on the
# same generated alerts, in the same run, rounds alternating, and prints
# medians, ratios and peak RSS. Every performance figure of the project is
# such a ratio (DESIGN §10): the machine and the moment cancel out, a figure
# from another machine does not. Then it checks that DuckDB wrote the same
# records as ocsfmap (duckdb_equal.cjs): the same partitions, files, row
# positions and values; a ratio against a program doing another job is no
# measure.
#
#   cmd/bench-compare/compare.sh [-n ALERTS] [-days DAYS] [-rounds R] [-ordered] [-only CONFIGS]
#
# The alerts are cmd/alertgen's, seed 1: times uniform over the days in
# random order (the hard case), or with -ordered rising through the input
# as a live stream sends them.
#
# Configs: duckdb1, duckdb2 (DuckDB, 1 and 2 threads, running the SQL a
# DuckDB expert writes: dspm_security_finding_1.1.0_expert.sql), duckdbold1,
# duckdbold2 (the first, plainer SQL: dspm_security_finding_1.1.0.sql, which
# is not exactly the same job), ocsfmap1, ocsfmap2 (bin/ocsfmap, GOMAXPROCS
# 1 and 2), and with BASE=path/to/ocsfmap also base1, base2 (another build
# of ocsfmap, for A/B of a change). The default is duckdb1 ocsfmap1
# duckdbold1 duckdb2 ocsfmap2. The one-core configs run under
# `taskset -c 0`. Each round runs every config once, starting one config
# later than the previous round.
#
# Environment: OCSFMAP (default bin/ocsfmap), BASE, TOOLS (default .tools),
# MAPPING, MEMORY (ocsfmap --memory), WORK (default /tmp/ocsfmap-compare).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
n=200000 days=1 rounds=5 only="" ordered=""
while [[ $# -gt 0 ]]; do
	case $1 in
	-n) n=$2; shift 2 ;;
	-days) days=$2; shift 2 ;;
	-rounds) rounds=$2; shift 2 ;;
	-only) only=$2; shift 2 ;;
	-ordered) ordered=-ordered; shift ;;
	*) echo "usage: compare.sh [-n ALERTS] [-days DAYS] [-rounds R] [-ordered] [-only 'duckdb1 ocsfmap1 …']" >&2; exit 2 ;;
	esac
done
ocsfmap=${OCSFMAP:-$root/bin/ocsfmap}
tools=${TOOLS:-$root/.tools}
mapping=${MAPPING:-$root/mappings/zscaler-dspm/security_finding_1.1.0.yaml}
sql=$here/dspm_security_finding_1.1.0_expert.sql
sql_old=$here/dspm_security_finding_1.1.0.sql
work=${WORK:-/tmp/ocsfmap-compare}
mkdir -p "$work"

configs=${only:-"duckdb1 ocsfmap1 duckdbold1 duckdb2 ocsfmap2${BASE:+ base1 base2}"}
read -r -a configs <<<"$configs"

# The same alerts for every config and round; kept between runs.
input=$work/alerts-$n-$days$ordered.ndjson
if [[ ! -s $input ]]; then
	echo "generating $n alerts over $days day(s) into $input" >&2
	(cd "$root" && go run ./cmd/alertgen -n "$n" -days "$days" -seed 1 $ordered) >"$input.tmp"
	mv "$input.tmp" "$input"
fi

run_config() { # config outdir -> runs it under /usr/bin/time, appends "s KB" to $work/times
	local c=$1 out=$2 memflag=()
	[[ -n ${MEMORY:-} ]] && memflag=(--memory "$MEMORY")
	case $c in
	duckdb1) taskset -c 0 /usr/bin/time -f '%e %M %U %S' -a -o "$work/t" node "$here/duckdb_copy.cjs" "$tools/duckdb" 1 "$sql" "$input" "$out" ;;
	duckdb2) /usr/bin/time -f '%e %M %U %S' -a -o "$work/t" node "$here/duckdb_copy.cjs" "$tools/duckdb" 2 "$sql" "$input" "$out" ;;
	duckdbold1) taskset -c 0 /usr/bin/time -f '%e %M %U %S' -a -o "$work/t" node "$here/duckdb_copy.cjs" "$tools/duckdb" 1 "$sql_old" "$input" "$out" ;;
	duckdbold2) /usr/bin/time -f '%e %M %U %S' -a -o "$work/t" node "$here/duckdb_copy.cjs" "$tools/duckdb" 2 "$sql_old" "$input" "$out" ;;
	ocsfmap1) GOMAXPROCS=1 taskset -c 0 /usr/bin/time -f '%e %M %U %S' -a -o "$work/t" "$ocsfmap" run -q "${memflag[@]}" -m "$mapping" -o "$out" "$input" ;;
	ocsfmap2) GOMAXPROCS=2 /usr/bin/time -f '%e %M %U %S' -a -o "$work/t" "$ocsfmap" run -q "${memflag[@]}" -m "$mapping" -o "$out" "$input" ;;
	base1) GOMAXPROCS=1 taskset -c 0 /usr/bin/time -f '%e %M %U %S' -a -o "$work/t" "$BASE" run -q "${memflag[@]}" -m "$mapping" -o "$out" "$input" ;;
	base2) GOMAXPROCS=2 /usr/bin/time -f '%e %M %U %S' -a -o "$work/t" "$BASE" run -q "${memflag[@]}" -m "$mapping" -o "$out" "$input" ;;
	*) echo "unknown config $c" >&2; exit 2 ;;
	esac
}

rm -f "$work"/res-*
nc=${#configs[@]}
for ((r = 0; r < rounds; r++)); do
	for ((i = 0; i < nc; i++)); do
		c=${configs[$(((i + r) % nc))]}
		out=$work/out-$c
		rm -rf "$out" "$work/t"
		sync
		if ! run_config "$c" "$out" >"$work/log-$c" 2>&1; then
			echo "$c failed:" >&2; cat "$work/log-$c" >&2; exit 1
		fi
		files=$(find "$out" -name '*.parquet' | wc -l)
		bytes=$(find "$out" -name '*.parquet' -printf '%s\n' | awk '{s += $1} END {print s + 0}')
		read -r wall kb usr sys < <(tail -1 "$work/t")
		cpu=$(awk -v u="$usr" -v s="$sys" 'BEGIN {print u + s}')
		echo "$wall $kb $cpu $files $bytes" >>"$work/res-$c"
		printf '  round %d %-10s %s s, CPU %s s, %s KB\n' $((r + 1)) "$c" "$wall" "$cpu" "$kb" >&2
	done
done

median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
declare -A sec rss cpu
label() {
	case $1 in
	duckdb1) echo "DuckDB, 1 thread" ;; duckdb2) echo "DuckDB, 2 threads" ;;
	duckdbold1) echo "DuckDB old SQL, 1 thread" ;; duckdbold2) echo "DuckDB old SQL, 2 threads" ;;
	ocsfmap1) echo "ocsfmap, GOMAXPROCS=1" ;; ocsfmap2) echo "ocsfmap, GOMAXPROCS=2" ;;
	base1) echo "BASE, GOMAXPROCS=1" ;; base2) echo "BASE, GOMAXPROCS=2" ;;
	esac
}
echo
echo "$n alerts, $days day(s)${ordered:+, in time order}, $rounds rounds, input $(du -m "$input" | cut -f1) MB; $(nproc) CPUs; one-core configs pinned to CPU 0"
printf '| %-26s | %8s | %15s | %10s | %12s | %6s | %7s | %8s |\n' config "median s" "min-max s" "CPU s" "peak RSS MB" files "MB" "B/alert"
printf '|%s|%s|%s|%s|%s|%s|%s|%s|\n' ---------------------------- ---------- ----------------- ------------ -------------- -------- --------- ----------
for c in "${configs[@]}"; do
	f=$work/res-$c
	sec[$c]=$(cut -d' ' -f1 "$f" | median)
	rss[$c]=$(cut -d' ' -f2 "$f" | median)
	cpu[$c]=$(cut -d' ' -f3 "$f" | median)
	lo=$(cut -d' ' -f1 "$f" | sort -g | head -1)
	hi=$(cut -d' ' -f1 "$f" | sort -g | tail -1)
	read -r files bytes < <(tail -1 "$f" | cut -d' ' -f4,5)
	printf '| %-26s | %8.2f | %15s | %10.2f | %12.0f | %6d | %7.1f | %8.0f |\n' "$(label "$c")" "${sec[$c]}" "$lo-$hi" "${cpu[$c]}" \
		"$(awk -v k="${rss[$c]}" 'BEGIN {print k / 1024}')" "$files" "$(awk -v b="$bytes" 'BEGIN {print b / 1e6}')" \
		"$(awk -v b="$bytes" -v n="$n" 'BEGIN {print b / n}')"
done
ratio() { # name numerator denominator: numerator's time over denominator's (> 1: the denominator is faster)
	[[ -n ${sec[$2]:-} && -n ${sec[$3]:-} ]] || return 0
	printf '  %-50s %5.2fx   CPU %5.2fx\n' "$1" "$(awk -v a="${sec[$2]}" -v b="${sec[$3]}" 'BEGIN {print a / b}')" \
		"$(awk -v a="${cpu[$2]}" -v b="${cpu[$3]}" 'BEGIN {print a / b}')"
}
echo
echo "ratios of medians (time of the first over time of the second; above 1: the second is faster)."
echo "Wall time is what the targets are stated in; CPU time (user + system) is steadier when other work"
echo "shares the machine, and for the two-core configs it says how much work, not how fast."
ratio "DuckDB 1 thread / ocsfmap GOMAXPROCS=1" duckdb1 ocsfmap1
ratio "DuckDB old SQL 1 thread / ocsfmap GOMAXPROCS=1" duckdbold1 ocsfmap1
ratio "DuckDB 2 threads / ocsfmap GOMAXPROCS=2" duckdb2 ocsfmap2
ratio "DuckDB old SQL 2 threads / ocsfmap GOMAXPROCS=2" duckdbold2 ocsfmap2
ratio "DuckDB old SQL / expert SQL, 1 thread" duckdbold1 duckdb1
ratio "ocsfmap GOMAXPROCS=1 / GOMAXPROCS=2" ocsfmap1 ocsfmap2
ratio "DuckDB 1 thread / 2 threads" duckdb1 duckdb2
ratio "BASE / ocsfmap, GOMAXPROCS=1" base1 ocsfmap1
ratio "BASE / ocsfmap, GOMAXPROCS=2" base2 ocsfmap2

# The two wrote the same records: every partition, file, row position and
# value, read back by DuckDB. With 2 threads DuckDB writes a partition's
# rows into one file per thread, so the 1-thread lake is the one checked.
if [[ -d $work/out-duckdb1 ]] && [[ -d $work/out-ocsfmap1 || -d $work/out-ocsfmap2 ]]; then
	o=$work/out-ocsfmap1; [[ -d $o ]] || o=$work/out-ocsfmap2
	echo
	echo "same records, DuckDB 1 thread (expert SQL) against $(basename "$o"):"
	if node "$here/duckdb_equal.cjs" "$tools/duckdb" "$o" "$work/out-duckdb1" ocsfmap duckdb | sed 's/^/  /'; then
		echo "equality check: PASSED"
	else
		echo "equality check: FAILED: the ratios above compare different jobs"
		exit 1
	fi
fi
