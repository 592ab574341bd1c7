#!/usr/bin/env bash
# Notification sinks (`make bench-sinks`): a webhook receiver on 127.0.0.1
# (Benchmarks/sink-receiver.py, HTTP/1.1 keep-alive) and a daemon delivering to it.
#  1. A backlog: PLANS generated plans (default 165: about 10,000 events) synced by
#     `plansync sync` while no daemon runs, then the daemon starts with the sink
#     (from_start = true): the time until the receiver has every event.
#  2. Latency: every feed changed, one daemon cycle; per event, the time from its line
#     appearing in the alert log (written right after the events are committed) to the
#     receiver having it.
# Prints figures; asserts nothing.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=${PLANSYNC_BIN:-$PWD/.build/release/plansync}
WORK=${BENCH_DIR:-$(mktemp -d /tmp/plansync-sinks.XXXXXX)}
export PLANS=${PLANS:-165}
now() { date +%s.%N; }
report() { printf '%-58s %s\n' "$1" "$2"; }
dir=$WORK/sinks
rm -rf "$dir"; Benchmarks/generate-scale.sh "$dir"
echo "plansync sink benchmark — $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $PLANS plans"
"$BIN" sync --config "$dir/plansync.toml" >/dev/null 2>&1
events=$(sqlite3 "$dir/state/mirror.sqlite" 'SELECT MAX(seq) FROM alert_event')
report "events recorded while nothing delivered" "$events"

/usr/bin/python3 Benchmarks/sink-receiver.py "$WORK/port" "$dir/state/alerts.jsonl" "$WORK/arrivals.tsv" & receiver=$!
for _ in $(seq 1 100); do [ -s "$WORK/port" ] && break; sleep 0.05; done
printf '\n[[sink]]\nid = "bench"\nkind = "webhook"\nurl = "http://127.0.0.1:%s/hook"\nfrom_start = true\n' "$(cat "$WORK/port")" >> "$dir/plansync.toml"
sock=$dir/state/status.sock
lag() { curl -s --max-time 10 --unix-socket "$sock" http://localhost/v1/sinks | sed -n 's/.*"lag_events":\([0-9]*\).*/\1/p'; }
metric() { curl -s --max-time 30 --unix-socket "$sock" http://localhost/metrics | awk -v name="$1" '$1 == name { print $2 }'; }
t0=$(now)
"$BIN" daemon --config "$dir/plansync.toml" 2>"$dir/daemon.err" & pid=$!
for _ in $(seq 1 6000); do [ "$(lag 2>/dev/null)" = "0" ] && break; sleep 0.05; done
t1=$(now)
report "backlog of $events events drained (target ≤ 30 s)" "$(printf '%.2f s from the daemon'"'"'s start, %.0f events a second' "$(echo "$t1 - $t0" | bc -l)" "$(echo "$events / ($t1 - $t0)" | bc -l)")"

CHANGE_ALL=1 Benchmarks/generate-scale.sh "$dir"
before=$(metric plansync_sync_cycles_total)
curl -s -X POST --unix-socket "$sock" http://localhost/v1/sync >/dev/null
while [ "$(metric plansync_sync_cycles_total)" = "$before" ]; do sleep 0.2; done
for _ in $(seq 1 6000); do [ "$(lag)" = "0" ] && break; sleep 0.05; done
total=$(sqlite3 "$dir/state/mirror.sqlite" 'SELECT MAX(seq) FROM alert_event')
kill -TERM $receiver; wait $receiver 2>/dev/null
report "events of the cycle" "$((total - events))"
awk -F'\t' -v first="$events" '$1 > first && $3 > 0 { print $2 - $3 }' "$WORK/arrivals.tsv" | sort -n |
  awk '{ v[NR] = $1 } END { if (NR) printf "%-58s p50 %.0f ms, p99 %.0f ms, max %.0f ms (%d events)\n", "alert log line → receiver has it (target p99 ≤ 1 s)", v[int(NR * 0.5) + 1] * 1000, v[int(NR * 0.99) + 1] * 1000, v[NR] * 1000, NR }'
kill -TERM $pid; wait $pid 2>/dev/null

# Wake-ups of an idle daemon (context switches of all its threads over 30 s, after the 20 s
# it takes to give memory back), without sinks and with 5 webhook sinks.
# Per thread: threads that start meanwhile count whole, threads that end are not counted.
snapshot() { for t in /proc/$1/task/*; do echo "${t##*/} $(awk '/ctxt_switches/ { n += $2 } END { print n }' "$t/status" 2>/dev/null)"; done; }
switches() {  # config → context switches in 30 s of idling
  "$BIN" daemon --config "$1" 2>/dev/null & local p=$!
  sleep 25
  snapshot $p > "$WORK/switches.a"
  sleep 30
  snapshot $p > "$WORK/switches.b"
  kill -TERM $p; wait $p 2>/dev/null
  awk 'NR == FNR { a[$1] = $2; next } { d += $2 - (($1 in a) ? a[$1] : 0) } END { print d }' "$WORK/switches.a" "$WORK/switches.b"
}
sed '/^\[\[sink\]\]/,$d' "$dir/plansync.toml" > "$dir/nosinks.toml"
cp "$dir/nosinks.toml" "$dir/fivesinks.toml"
for i in 1 2 3 4 5; do
  printf '\n[[sink]]\nid = "idle%d"\nkind = "webhook"\nurl = "http://127.0.0.1:9/hook"\n' "$i" >> "$dir/fivesinks.toml"
done
report "idle daemon, context switches in 30 s: no sinks / 5 sinks" "$(switches "$dir/nosinks.toml") / $(switches "$dir/fivesinks.toml")"
[ -n "${BENCH_KEEP:-}" ] || rm -rf "$WORK"
