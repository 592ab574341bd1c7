#!/usr/bin/env bash
# Writes a province-scale benchmark into $1: PLANS county plans made from one template
# (30 indicators each, targets for 2021–2025: 150 per plan; monthly release schedules) and one native CSV feed per plan
# of monthly year-to-date growth figures for 2016–2025 (3,600 rows per plan), plus a config.
#   PLANS (default 280)       how many plans
#   UNIQUE_CODES=1            give every plan its own indicator codes (default: shared, as
#                             county plans copied from one template have)
#   CHANGE_PLAN=N             write only plan N's feed again with its 2025 figures changed
#   CHANGE_ALL=1              write every feed again with its 2025 figures changed (plans kept)
set -euo pipefail
dir=$1
plans=${PLANS:-280}
unique=${UNIQUE_CODES:-0}
mkdir -p "$dir/plans" "$dir/feeds" "$dir/state"
if [ -n "${CHANGE_PLAN:-}" ]; then first=$CHANGE_PLAN; last=$CHANGE_PLAN; else first=0; last=$((plans - 1)); fi
change=${CHANGE_PLAN:-}; [ -n "${CHANGE_ALL:-}" ] && change=all
awk -v first="$first" -v last="$last" -v unique="$unique" -v dir="$dir" -v change="$change" 'BEGIN {
  for (p = first; p <= last; p++) {
    id = sprintf("county-%04d", p)
    prefix = unique ? sprintf("c%04d_", p) : ""
    if (change == "") {
      plan = dir "/plans/" id ".toml"
      printf "id = \"%s\"\ntitle = \"县区 %04d\"\ntimezone = \"Asia/Shanghai\"\n", id, p > plan
      # Every indicator watched for overdue monthly figures (judging works out the due times).
      printf "release = { frequency = \"monthly\", lag_days = 15, grace = \"3d\", skip = [\"01\"] }\n", id > plan
      for (i = 0; i < 30; i++) {
        code = sprintf("%sind%02d", prefix, i)
        printf "\n[[indicator]]\ncode = \"%s\"\nname = \"指标%02d\"\ncategory = \"%s\"\nunit = \"%%\"\ntargets = [\n", code, i, (i % 5 == 0 ? "binding" : "expected") > plan
        for (y = 2021; y <= 2025; y++) {
          printf "  { year = %d, rule = \"growth_at_least\", value = %.1f },\n", y, 3 + (p + i + y) % 40 / 10 > plan
        }
        printf "]\n" > plan
      }
      close(plan)
    }
    feed = dir "/feeds/" id ".csv"
    print "indicator,period,measure,value,unit,cumulative,base_year,note" > feed
    for (i = 0; i < 30; i++) {
      code = sprintf("%sind%02d", prefix, i)
      for (y = 2016; y <= 2025; y++) {
        for (m = 1; m <= 12; m++) {
          v = ((p * 7919 + i * 104729 + y * 31 + m * 17) % 120) / 10
          if (change != "" && y == 2025) v = v + 0.3
          printf "%s,%d-%02d,growth,%.1f,%%,true,,\n", code, y, m, v > feed
        }
      }
    }
    close(feed)
  }
}'
[ -n "$change" ] && exit 0
{
  cat <<TOML
database  = "state/mirror.sqlite"
socket    = "state/status.sock"
alert_log = "state/alerts.jsonl"
plans     = ["plans/*.toml"]
log_level = "warning"
# The daemon's reports are off here (REPORT_DIR=state/report turns them on): the figures of
# syncing and judging are measured alone; reports are measured by their own lines.
report_dir = "${REPORT_DIR:-}"
max_concurrent_fetches = 16
[defaults]
interval = "1h"
jitter   = "0s"
TOML
  for p in $(seq 0 $((plans - 1))); do
    printf '[[feed]]\nid = "county-%04d"\nplan = "county-%04d"\nurl = "file:feeds/county-%04d.csv"\nformat = "csv"\n' "$p" "$p" "$p"
  done
} > "$dir/plansync.toml"
