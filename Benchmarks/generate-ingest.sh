#!/usr/bin/env bash
# Writes the ingest benchmark's inputs into $1: a plan with 100 indicators, a native CSV feed
# of 100 indicators × 10,000 monthly periods (1,000,000 rows), and a config using them.
set -euo pipefail
dir=$1
rows_per_indicator=${ROWS_PER_INDICATOR:-10000}
mkdir -p "$dir/plans" "$dir/feeds" "$dir/state"
{
  echo 'id = "bench"'
  echo 'title = "ingest benchmark"'
  for i in $(seq 0 99); do
    printf '\n[[indicator]]\ncode = "ind%03d"\nname = "指标%03d"\ncategory = "expected"\nunit = "亿元"\n' "$i" "$i"
    printf 'targets = [ { year = 2023, rule = "growth_at_least", value = 5.0 } ]\n'
  done
} > "$dir/plans/bench.toml"
awk -v n="$rows_per_indicator" -v change="${CHANGE_PERCENT:-0}" 'BEGIN {
  print "indicator,period,measure,value,unit,cumulative,base_year,note"
  for (i = 0; i < 100; i++) {
    for (m = 0; m < n; m++) {
      v = (i * 7919 + m * 104729) % 100000 / 10
      if (change > 0 && (i * n + m) % int(100 / change) == 0) v = v + 0.5
      printf "ind%03d,%d-%02d,level,%.1f,亿元,,,\n", i, 1900 + int(m / 12), m % 12 + 1, v
    }
  }
}' > "$dir/feeds/ingest.csv"
cat > "$dir/plansync.toml" <<TOML
database  = "state/mirror.sqlite"
socket    = "state/status.sock"
alert_log = "state/alerts.jsonl"
plans     = ["plans/*.toml"]
log_level = "warning"
[defaults]
max_bytes = "1GiB"
timeout   = "10m"
[[feed]]
id     = "ingest"
plan   = "bench"
url    = "file:feeds/ingest.csv"
format = "csv"
TOML
