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
report "sync process, nothing changed (target ≤ 2 s)" "$(printf '%.2f s' "$(elapsed "$t0" "$t1")")"

CHANGE_PLAN=0 Benchmarks/generate-scale.sh "$dir"
t0=$(now)
"$BIN" sync --config "$dir/plansync.toml" >/dev/null 2>&1
t1=$(now)
report "sync process, one feed changed (the cycle's target ≤ 1 s)" "$(printf '%.2f s' "$(elapsed "$t0" "$t1")")"
report "mirror size" "$(du -sh "$dir/state/mirror.sqlite" | cut -f1)"

# Reports (issue 19) from this mirror: every plan in one HTML file, one plan's HTML and XLSX
# (median of 5 plans), each a `plansync report` process.
t0=$(now)
/usr/bin/time -f '%M' -o "$dir/rss-report" "$BIN" report --config "$dir/plansync.toml" -o "$dir/all.html" 2>/dev/null
t1=$(now)
report "report, every plan in one HTML (target at 280: ≤ 2 s, ≤ 10 MB)" \
  "$(printf '%.2f s, %.1f MB, peak RSS %s' "$(elapsed "$t0" "$t1")" "$(echo "$(stat -c %s "$dir/all.html") / 1000000" | bc -l)" "$(mib "$dir/rss-report")")"
# Baseline: the same process up to its first answer — start, configuration read (from the
# plan cache), a plan asked for that does not exist.
report "report: baseline, the process reading the configuration" \
  "$(for i in 1 2 3; do t0=$(now); "$BIN" report --config "$dir/plansync.toml" --plan no-such-plan >/dev/null 2>&1; t1=$(now); elapsed "$t0" "$t1"; done | sort -n | awk 'NR == 2 { printf "%.0f ms", $1 * 1000 }')"
for format in html xlsx; do
  for i in 1 2 3 4 5; do
    t0=$(now); "$BIN" report --config "$dir/plansync.toml" --plan "county-000$i" -o "$dir/one.$format" 2>/dev/null; t1=$(now); elapsed "$t0" "$t1"
  done | sort -n > "$WORK/one-times"
  report "report, one plan $format (target ≤ 100 ms)" "$(awk 'NR == 3 { printf "%.0f ms", $1 * 1000 }' "$WORK/one-times"), $(du -k "$dir/one.$format" | cut -f1) KiB"
done

# The daemon on the same mirror: start, cycles, socket answers.
sock=$dir/state/status.sock
metric() { curl -s --max-time 30 --unix-socket "$sock" http://localhost/metrics | awk -v name="$1" '$1 == name { print $2 }'; }
# POST /v1/sync and wait until the cycle count moves; prints the cycle's own duration.
cycle() {
  local before; before=$(metric plansync_sync_cycles_total)
  curl -s -X POST --unix-socket "$sock" http://localhost/v1/sync >/dev/null
  for _ in $(seq 1 1200); do [ "$(metric plansync_sync_cycles_total)" != "$before" ] && break; sleep 0.5; done
  printf '%.2f s, %d plans judged' "$(metric plansync_sync_cycle_duration_seconds)" "$(metric plansync_sync_cycle_plans_judged)"
}
notify=$WORK/notify.sock; rm -f "$notify"
socat -u "UNIX-RECV:$notify" "OPEN:$WORK/notify.out,creat,append" 2>/dev/null & listener=$!
sleep 0.2
t0=$(now)
NOTIFY_SOCKET=$notify "$BIN" daemon --config "$dir/plansync.toml" 2>"$dir/daemon.err" & pid=$!
for _ in $(seq 1 3000); do grep -q READY=1 "$WORK/notify.out" 2>/dev/null && break; sleep 0.01; done
t1=$(now)
report "daemon start to READY=1 (target ≤ 1 s)" "$(printf '%.2f s' "$(elapsed "$t0" "$t1")")"
# (The feeds were fetched by the syncs above: none is due yet, so cycles run on demand.)
report "daemon cycle, nothing changed (target ≤ 1 s)" "$(cycle)"
CHANGE_PLAN=1 Benchmarks/generate-scale.sh "$dir"
report "daemon cycle, one feed changed (target ≤ 1 s)" "$(cycle)"
for _ in 1 2 3 4 5; do curl -s --unix-socket "$sock" -o /dev/null -w '%{time_total}\n' http://localhost/metrics; done | sort -n > "$WORK/metrics-times"
report "GET /metrics, 5 requests (target ≤ 100 ms)" "$(awk '{ v[NR] = $1 * 1000 } END { printf "median %.0f ms, max %.0f ms", v[3], v[5] }' "$WORK/metrics-times")"
curl -s --unix-socket "$sock" -o /dev/null -w '%{time_starttransfer} %{time_total} %{size_download}\n' http://localhost/v1/indicators > "$WORK/all"
report "GET /v1/indicators, everything: first byte / total / size" "$(awk '{ printf "%.0f ms / %.0f ms / %.0f MiB", $1 * 1000, $2 * 1000, $3 / 1048576 }' "$WORK/all")"
# Every feed changed, synced by the daemon, and one plan's indicators asked for meanwhile,
# 20 times a second (a dashboard's pace).
CHANGE_ALL=1 Benchmarks/generate-scale.sh "$dir"
# The cycle's end is watched on /v1/status (answered from memory), not /metrics (80 ms of
# the daemon's CPU per look, which the probe's figures felt).
last_sync() { curl -s --max-time 30 --unix-socket "$sock" http://localhost/v1/status | jq -r .last_sync; }
before_sync=$(last_sync)
curl -s -X POST --unix-socket "$sock" http://localhost/v1/sync >/dev/null
: > "$WORK/lat"; rm -f "$WORK/cycle-done"
while [ ! -e "$WORK/cycle-done" ]; do
  curl -s --unix-socket "$sock" -o /dev/null -w '%{time_total}\n' "http://localhost/v1/indicators?plan=county-0007" >> "$WORK/lat"
  sleep 0.05
done & probe=$!
while [ "$(last_sync)" = "$before_sync" ]; do sleep 0.5; done
touch "$WORK/cycle-done"; wait $probe
report "daemon cycle, every feed changed" "$(printf '%.2f s' "$(metric plansync_sync_cycle_duration_seconds)")"
judge=$(metric 'plansync_sync_cycle_phase_seconds{phase="judge"}'); judged=$(metric plansync_sync_cycle_plans_judged)
report "judging in that cycle (target ≤ 25 µs a target)" \
  "$(printf '%.2f s for %d plans = %.1f µs a target' "$judge" "$judged" "$(echo "$judge * 1000000 / ($judged * 150)" | bc -l)")"
report "GET /v1/indicators?plan=ID during it (target p99 ≤ 10 ms)" "$(sort -n "$WORK/lat" | awk '{ v[NR] = $1 } END { printf "%d requests, p50 %.2f ms, p99 %.2f ms", NR, v[int(NR * 0.5) + 1] * 1000, v[int(NR * 0.99) + 1] * 1000 }')"
sleep 25   # the daemon gives memory back after 20 s idle
report "daemon idle RSS after these (target ≤ 64 MiB)" "$(awk '/VmRSS/ { printf "%.0f MiB", $2 / 1024 }' /proc/$pid/status)"
kill -TERM $pid; wait $pid 2>/dev/null; kill $listener 2>/dev/null

# A year of fetch rows (500 feeds every 6 h: 730,000 unchanged fetches, spread over the
# last 365 days), then one sync, which prunes those older than fetch_retention (90 days).
db=$dir/state/mirror.sqlite
sqlite3 "$db" "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 729999)
  INSERT INTO fetch (feed_id, started_at, finished_at, outcome, bytes)
  SELECT printf('county-%04d', i % 500), strftime('%Y-%m-%dT%H:%M:%SZ', 'now', printf('-%d minutes', i * 720 / 1000)),
         strftime('%Y-%m-%dT%H:%M:%SZ', 'now', printf('-%d minutes', i * 720 / 1000)), 'not_modified', 0 FROM n;"
report "a simulated year: fetch rows / mirror size" "$(sqlite3 "$db" 'SELECT COUNT(*) FROM fetch') / $(du -sh "$db" | cut -f1)"
"$BIN" sync --config "$dir/plansync.toml" >/dev/null 2>&1
rm -f "$WORK/vacuumed.sqlite"; sqlite3 "$db" "VACUUM INTO '$WORK/vacuumed.sqlite'"
report "after one sync (pruned to 90 days): fetch rows / size compacted" "$(sqlite3 "$db" 'SELECT COUNT(*) FROM fetch') / $(du -sh "$WORK/vacuumed.sqlite" | cut -f1)"
[ -n "${BENCH_KEEP:-}" ] || rm -rf "$WORK"
