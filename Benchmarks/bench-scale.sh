#!/usr/bin/env bash
# plansync at province scale (`make bench-scale PLANS=N`): PLANS county plans from one
# template (shared indicator codes unless UNIQUE_CODES=1), one feed each, beside sqlite3's
# .import of the same rows in the same run. Prints figures; asserts nothing.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=${PLANSYNC_BIN:-$PWD/.build/release/plansync}
WORK=${BENCH_DIR:-$(mktemp -d /tmp/plansync-scale.XXXXXX)}
export PLANS=${PLANS:-280}
now() { date +%s.%N; }
elapsed() { echo "$2 - $1" | bc -l; }
report() { printf '%-58s %s\n' "$1" "$2"; }
mib() { awk '{printf "%.0f MiB", $1/1024}' "$1"; }

echo "plansync scale benchmark — $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $PLANS plans, $([ "${UNIQUE_CODES:-0}" = 1 ] && echo unique || echo shared) codes"
echo "binary: $BIN   work: $WORK"
dir=$WORK/scale
rm -rf "$dir"; Benchmarks/generate-scale.sh "$dir"
rows=$((PLANS * 3600))

# Baseline: every feed's rows, with the feed id, imported into one table with the mirror's key.
awk 'FNR == 1 { feed = FILENAME; sub(/.*\//, "", feed); sub(/\.csv$/, "", feed); next } { print $0 "," feed }' \
  "$dir"/feeds/*.csv > "$dir/all.csv"
t0=$(now)
sqlite3 "$dir/baseline.sqlite" "PRAGMA journal_mode=WAL;" \
  "CREATE TABLE observation (indicator TEXT, period TEXT, measure TEXT, value TEXT, unit TEXT, cumulative TEXT, base_year TEXT, note TEXT, feed TEXT, PRIMARY KEY (indicator, period, measure, cumulative, base_year, feed)) WITHOUT ROWID;" \
  ".mode csv" ".import $dir/all.csv observation" >/dev/null
t1=$(now); base=$(elapsed "$t0" "$t1")
report "sqlite3 .import of $rows rows (baseline)" "$(printf '%.2f s' "$base")"

t0=$(now)
/usr/bin/time -f '%M' -o "$dir/rss1" "$BIN" sync --config "$dir/plansync.toml" >/dev/null 2>"$dir/sync1.err"
t1=$(now); first=$(elapsed "$t0" "$t1")
report "first sync (target ≤ 3× import)" "$(printf '%.2f s = %.2f× import, peak RSS %s' "$first" "$(echo "$first / $base" | bc -l)" "$(mib "$dir/rss1")")"
report "verdicts / alert events" "$(sqlite3 "$dir/state/mirror.sqlite" 'SELECT COUNT(*) FROM verdict') / $(sqlite3 "$dir/state/mirror.sqlite" 'SELECT COUNT(*) FROM alert_event')"

t0=$(now)
"$BIN" sync --config "$dir/plansync.toml" >/dev/null 2>&1
t1=$(now)
report "sync, nothing changed (target ≤ 1 s; 2 s as a process)" "$(printf '%.2f s' "$(elapsed "$t0" "$t1")")"

CHANGE_PLAN=0 Benchmarks/generate-scale.sh "$dir"
t0=$(now)
"$BIN" sync --config "$dir/plansync.toml" >/dev/null 2>&1
t1=$(now)
report "sync, one feed changed (target ≤ 1 s)" "$(printf '%.2f s' "$(elapsed "$t0" "$t1")")"
report "mirror size" "$(du -sh "$dir/state/mirror.sqlite" | cut -f1)"
[ -n "${BENCH_KEEP:-}" ] || rm -rf "$WORK"
