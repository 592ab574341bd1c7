#!/usr/bin/env bash
# plansync benchmarks (`make bench`). Every figure is compared with a baseline measured in
# the same run on the same machine; nothing here is asserted by the test suite.
#   BENCH_ROWS_PER_INDICATOR (default 10000: 100 indicators × 10,000 months = 1,000,000 rows)
#   BENCH_ONLY="ingest fetch idle socket start reports" to run a subset
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=${PLANSYNC_BIN:-$PWD/.build/release/plansync}
WORK=${BENCH_DIR:-$(mktemp -d /tmp/plansync-bench.XXXXXX)}
ONLY=${BENCH_ONLY:-"ingest start socket idle fetch reports"}
ROWS=${BENCH_ROWS_PER_INDICATOR:-10000}
export ROWS_PER_INDICATOR=$ROWS
now() { date +%s.%N; }
elapsed() { echo "$2 - $1" | bc -l; }
ratio() { printf '%.2f' "$(echo "$1 / $2" | bc -l)"; }
verdict() { if [ "$(echo "$1 <= $2" | bc -l)" = 1 ]; then echo "OK"; else echo "MISSED"; fi; }
results=()
report() { results+=("$(printf '%-58s %s' "$1" "$2")"); printf '%-58s %s\n' "$1" "$2"; }

echo "plansync benchmarks — $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r)"
echo "binary: $BIN   work: $WORK"
echo

# A Unix datagram socket standing in for systemd's NOTIFY_SOCKET: prints each message.
notify_listener() { socat -u "UNIX-RECV:$1" - 2>/dev/null & echo $!; }

ingest() {
  local dir=$WORK/ingest
  rm -rf "$dir"; Benchmarks/generate-ingest.sh "$dir"
  local rows=$((ROWS * 100))
  # Baseline: sqlite3's .import of the same rows into a table with the same primary key.
  local t0 t1 base
  t0=$(now)
  sqlite3 "$dir/baseline.sqlite" "PRAGMA journal_mode=WAL;" \
    "CREATE TABLE observation (indicator TEXT, period TEXT, measure TEXT, value TEXT, unit TEXT, cumulative TEXT, base_year TEXT, note TEXT, PRIMARY KEY (indicator, period, measure, cumulative, base_year)) WITHOUT ROWID;" \
    ".mode csv" ".import --skip 1 $dir/feeds/ingest.csv observation" >/dev/null
  t1=$(now); base=$(elapsed "$t0" "$t1")
  report "ingest: sqlite3 .import of $rows rows (baseline)" "$(printf '%.2f s' "$base")"
  # First sync into an empty mirror.
  t0=$(now)
  /usr/bin/time -f '%M' -o "$dir/rss1" "$BIN" sync --config "$dir/plansync.toml" >/dev/null 2>"$dir/sync1.err"
  t1=$(now); local first; first=$(elapsed "$t0" "$t1")
  report "ingest: first sync (target ≤ 2× import)" "$(printf '%.2f s = %s× import  %s' "$first" "$(ratio "$first" "$base")" "$(verdict "$first" "$(echo "2 * $base" | bc -l)")")"
  report "ingest: first sync peak RSS (target ≤ 256 MiB)" "$(awk '{printf "%.0f MiB", $1/1024}' "$dir/rss1")  $(verdict "$(cat "$dir/rss1")" 262144)"
  report "ingest: observations in the mirror" "$(sqlite3 "$dir/state/mirror.sqlite" 'SELECT COUNT(*) FROM observation')"
  # Re-sync of the unchanged feed.
  t0=$(now)
  "$BIN" sync --config "$dir/plansync.toml" >/dev/null 2>&1
  t1=$(now); local again; again=$(elapsed "$t0" "$t1")
  report "ingest: re-sync, feed unchanged (target ≤ 10% of first)" "$(printf '%.3f s = %.1f%% of first  %s' "$again" "$(echo "100 * $again / $first" | bc -l)" "$(verdict "$again" "$(echo "0.1 * $first" | bc -l)")")"
  # Re-sync with 1% of the values changed.
  CHANGE_PERCENT=1 Benchmarks/generate-ingest.sh "$dir.changed" >/dev/null
  cp "$dir.changed/feeds/ingest.csv" "$dir/feeds/ingest.csv"
  t0=$(now)
  /usr/bin/time -f '%M' -o "$dir/rss3" "$BIN" sync --config "$dir/plansync.toml" >/dev/null 2>&1
  t1=$(now); local changed; changed=$(elapsed "$t0" "$t1")
  report "ingest: re-sync, 1% changed (target ≤ 2× import)" "$(printf '%.2f s = %s× import  %s' "$changed" "$(ratio "$changed" "$base")" "$(verdict "$changed" "$(echo "2 * $base" | bc -l)")")"
  report "ingest: revisions written (expected $((rows / 100)))" "$(sqlite3 "$dir/state/mirror.sqlite" 'SELECT COUNT(*) FROM revision')"
  report "ingest: 1% re-sync peak RSS" "$(awk '{printf "%.0f MiB", $1/1024}' "$dir/rss3")"
}

start() {
  local dir=$WORK/ingest
  [ -f "$dir/state/mirror.sqlite" ] || ingest >/dev/null
  local sock=$WORK/notify-start.sock; rm -f "$sock"
  local out=$WORK/notify-start.out
  socat -u "UNIX-RECV:$sock" "OPEN:$out,creat,append" 2>/dev/null & local listener=$!
  sleep 0.2
  local t0 t1
  t0=$(now)
  NOTIFY_SOCKET=$sock "$BIN" daemon --config "$dir/plansync.toml" 2>/dev/null & local pid=$!
  for _ in $(seq 1 500); do grep -q READY=1 "$out" 2>/dev/null && break; sleep 0.005; done
  t1=$(now)
  report "start: to READY=1 with a $(sqlite3 "$dir/state/mirror.sqlite" 'SELECT COUNT(*) FROM observation')-row mirror (target ≤ 500 ms)" \
    "$(printf '%.0f ms  %s' "$(echo "1000 * ($t1 - $t0)" | bc -l)" "$(verdict "$(elapsed "$t0" "$t1")" 0.5)")"
  kill -TERM $pid; wait $pid 2>/dev/null; kill $listener 2>/dev/null
}

# 16 concurrent curl clients, each making N requests on one connection; per-request times.
load() {
  local sock=$1 path=$2 n=$3 out=$4
  : > "$out"
  local urls=(); for _ in $(seq 1 "$n"); do urls+=("http://localhost$path" -o /dev/null); done
  local t0 t1
  t0=$(now)
  for _ in $(seq 1 16); do
    curl -s --unix-socket "$sock" -w '%{time_total}\n' "${urls[@]}" >> "$out" &
  done
  wait
  t1=$(now)
  local count; count=$(wc -l < "$out")
  sort -n "$out" | awk -v total="$count" -v wall="$(elapsed "$t0" "$t1")" '
    { v[NR] = $1 } END { printf "%d req/s, p50 %.2f ms, p99 %.2f ms", total / wall, v[int(total * 0.5)] * 1000, v[int(total * 0.99)] * 1000 }'
}

socket() {
  local dir=$WORK/socket
  rm -rf "$dir"; Benchmarks/generate-ingest.sh "$dir"
  "$BIN" daemon --config "$dir/plansync.toml" 2>/dev/null & local pid=$!
  for _ in $(seq 1 200); do curl -s --unix-socket "$dir/state/status.sock" http://localhost/v1/health >/dev/null 2>&1 && break; sleep 0.05; done
  # Let the first (1M-row) sync finish, then measure idle.
  for _ in $(seq 1 120); do [ "$(curl -s --max-time 5 --unix-socket "$dir/state/status.sock" http://localhost/v1/status | jq -r .last_sync)" != null ] && break; sleep 0.5; done
  report "socket idle: GET /v1/status, 16 clients" "$(load "$dir/state/status.sock" /v1/status 200 "$WORK/lat1")"
  report "socket idle: GET /v1/indicators, 16 clients" "$(load "$dir/state/status.sock" /v1/indicators 200 "$WORK/lat2")"
  # Now a 1% changed body, synced on demand, and the same load while it runs.
  CHANGE_PERCENT=1 Benchmarks/generate-ingest.sh "$dir.changed" >/dev/null
  cp "$dir.changed/feeds/ingest.csv" "$dir/feeds/ingest.csv"
  curl -s -X POST --unix-socket "$dir/state/status.sock" http://localhost/v1/sync >/dev/null
  sleep 0.3
  report "socket during sync: GET /v1/status (target p99 ≤ 10 ms)" "$(load "$dir/state/status.sock" /v1/status 100 "$WORK/lat3")"
  report "socket during sync: GET /v1/indicators (target p99 ≤ 10 ms)" "$(load "$dir/state/status.sock" /v1/indicators 100 "$WORK/lat4")"
  report "socket during sync: was a sync running at the end?" "$(curl -s --unix-socket "$dir/state/status.sock" http://localhost/v1/feeds | jq -r '.feeds[0].running')"
  kill -TERM $pid; wait $pid 2>/dev/null
}

idle() {
  local dir=$WORK/idle
  rm -rf "$dir"; mkdir -p "$dir/feeds"
  cp -r Config/plans "$dir/"
  { echo 'database = "state/mirror.sqlite"'; echo 'socket = "state/status.sock"'; echo 'alert_log = "state/alerts.jsonl"'
    echo 'plans = ["plans/*.toml"]'; echo 'log_level = "warning"'
    for i in $(seq 1 20); do
      cp Config/feeds/futian-2022-annex.csv "$dir/feeds/f$i.csv"
      printf '[[feed]]\nid = "f%d"\nplan = "futian-2023"\nurl = "file:feeds/f%d.csv"\nformat = "csv"\ninterval = "1h"\n' "$i" "$i"
    done; } > "$dir/plansync.toml"
  "$BIN" daemon --config "$dir/plansync.toml" 2>/dev/null & local pid=$!
  sleep 3   # start and the first sync of the 20 feeds
  local ticks; ticks=$(getconf CLK_TCK)
  # Context switches per thread (voluntary + involuntary), by thread id, so threads that end
  # or start during the 30 s are counted correctly (a sum over threads was not).
  switches() { for t in /proc/$pid/task/*; do echo "${t##*/} $(awk '/ctxt_switches/ {s += $2} END {print s}' "$t/status" 2>/dev/null)"; done; }
  local rss0; rss0=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
  local cpu0; cpu0=$(awk '{print $14 + $15}' /proc/$pid/stat); switches > "$dir/sw0"
  sleep 30
  local cpu1; cpu1=$(awk '{print $14 + $15}' /proc/$pid/stat); switches > "$dir/sw1"
  local woke; woke=$(awk 'NR == FNR { before[$1] = $2; next } { n += $2 - before[$1]; if ($2 > before[$1]) t++ } END { printf "%d in %d thread(s)", n, t }' "$dir/sw0" "$dir/sw1")
  local rss; rss=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
  report "idle: RSS 3 s after start, just after the first cycle" "$(printf '%.1f MiB' "$(echo "$rss0 / 1024" | bc -l)")"
  report "idle 30 s, 20 feeds: RSS (target ≤ 40 MiB)" "$(printf '%.1f MiB  %s' "$(echo "$rss / 1024" | bc -l)" "$(verdict "$rss" 40960)")"
  report "idle 30 s, 20 feeds: of which anonymous (heap, stacks)" "$(awk '/^Anonymous/ {printf "%.1f MiB", $2/1024}' /proc/$pid/smaps_rollup)"
  report "idle 30 s, 20 feeds: PSS (shared library pages split)" "$(awk '/^Pss:/ {printf "%.1f MiB", $2/1024}' /proc/$pid/smaps_rollup)"
  report "idle 30 s, 20 feeds: CPU (target ≤ 0.15 s)" "$(printf '%.2f s  %s' "$(echo "($cpu1 - $cpu0) / $ticks" | bc -l)" "$(verdict "$(echo "($cpu1 - $cpu0) / $ticks" | bc -l)" 0.15)")"
  report "idle 30 s, 20 feeds: context switches (timers only: expected ~0)" "$woke"
  report "idle 30 s, 20 feeds: threads" "$(ls /proc/$pid/task | wc -l)"
  kill -TERM $pid; wait $pid 2>/dev/null
}

fetch() {
  local dir=$WORK/fetch n=500
  rm -rf "$dir"; mkdir -p "$dir/html" "$dir/plans" "$dir/state"
  cp Config/plans/futian-2023.toml "$dir/plans/"
  local port; port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 18631)
  cat > "$dir/nginx.conf" <<NGINX
daemon off; master_process off; worker_processes 1; error_log $dir/error.log; pid $dir/nginx.pid;
events { worker_connections 4096; }
http { access_log off; client_body_temp_path $dir/t1; proxy_temp_path $dir/t2; fastcgi_temp_path $dir/t3;
       uwsgi_temp_path $dir/t4; scgi_temp_path $dir/t5; keepalive_requests 100000;
       server { listen 127.0.0.1:$port; root $dir/html; } }
NGINX
  { echo 'database = "state/mirror.sqlite"'; echo 'socket = "state/status.sock"'; echo 'alert_log = "state/alerts.jsonl"'
    echo 'plans = ["plans/*.toml"]'; echo 'log_level = "error"'; echo 'max_concurrent_fetches = 16'
    for i in $(seq 1 $n); do
      printf 'indicator,period,measure,value\ngdp,2022,growth,%d.0\n' $((i % 9)) > "$dir/html/f$i.csv"
      printf '[[feed]]\nid = "f%d"\nplan = "futian-2023"\nurl = "http://127.0.0.1:%d/f%d.csv"\nformat = "csv"\n' "$i" "$port" "$i"
    done; } > "$dir/plansync.toml"
  nginx -p "$dir" -c "$dir/nginx.conf" & local nginx=$!
  sleep 0.5
  # Baseline: curl fetching the same URLs, 16 in parallel, cold then with the same validators.
  local urls=(); for i in $(seq 1 $n); do urls+=("http://127.0.0.1:$port/f$i.csv" -o /dev/null); done
  local t0 t1 curlcold curlwarm
  # Each figure is the median of $REPS runs (single runs of ~50 ms move by ±30% here).
  local reps=${FETCH_REPS:-5} t0 t1 times
  median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
  times=$(for _ in $(seq 1 "$reps"); do
    t0=$(now); curl -s --no-progress-meter --parallel --parallel-max 16 "${urls[@]}"; t1=$(now); elapsed "$t0" "$t1"; done)
  local curlcold; curlcold=$(echo "$times" | median)
  # Warm: each URL with its own validators, as plansync sends them. A curl config file with
  # `next` between URLs scopes each header to its URL (several -H on one command line would
  # send every header with every request).
  local lm; lm=$(curl -sI "http://127.0.0.1:$port/f1.csv" | awk -F': ' 'tolower($1) == "last-modified" {print $2}' | tr -d '\r')
  : > "$dir/curl-warm.conf"
  for i in $(seq 1 $n); do
    local etag; etag=$(curl -sI "http://127.0.0.1:$port/f$i.csv" | awk -F': ' 'tolower($1) == "etag" {print $2}' | tr -d '\r' | sed 's/"/\\"/g')
    [ "$i" -gt 1 ] && echo next >> "$dir/curl-warm.conf"
    printf 'url = "http://127.0.0.1:%s/f%d.csv"\noutput = "/dev/null"\nheader = "If-None-Match: %s"\nheader = "If-Modified-Since: %s"\nwrite-out = "%%{http_code}\\n"\n' \
      "$port" "$i" "$etag" "$lm" >> "$dir/curl-warm.conf"
  done
  times=$(for _ in $(seq 1 "$reps"); do
    t0=$(now); curl -s --no-progress-meter --parallel --parallel-max 16 -K "$dir/curl-warm.conf" > "$dir/curl-warm.codes"; t1=$(now); elapsed "$t0" "$t1"; done)
  local curlwarm; curlwarm=$(echo "$times" | median)
  # plansync sync as a process: cold = an empty mirror each time; warm = everything 304.
  times=$(for _ in $(seq 1 "$reps"); do rm -rf "$dir/state"; mkdir -p "$dir/state"
    t0=$(now); "$BIN" sync --config "$dir/plansync.toml" >/dev/null 2>&1; t1=$(now); elapsed "$t0" "$t1"; done)
  local cold; cold=$(echo "$times" | median)
  times=$(for _ in $(seq 1 "$reps"); do
    t0=$(now); "$BIN" sync --config "$dir/plansync.toml" >/dev/null 2>&1; t1=$(now); elapsed "$t0" "$t1"; done)
  local warm; warm=$(echo "$times" | median)
  report "fetch: $n feeds cold, curl --parallel-max 16 (baseline, median of $reps)" "$(printf '%.3f s' "$curlcold")"
  report "fetch: $n feeds cold, \`plansync sync\` process (target ≤ 1.5× curl)" "$(printf '%.3f s = %s× curl  %s' "$cold" "$(ratio "$cold" "$curlcold")" "$(verdict "$cold" "$(echo "1.5 * $curlcold" | bc -l)")")"
  report "fetch: $n feeds warm (304), curl (baseline, median of $reps)" "$(printf '%.3f s  (%s)' "$curlwarm" "$(sort "$dir/curl-warm.codes" | uniq -c | awk '{printf "%s×%s ", $1, $2}')")"
  report "fetch: $n feeds warm (304), \`plansync sync\` process (target ≤ 1.5× curl)" "$(printf '%.3f s = %s× curl  %s' "$warm" "$(ratio "$warm" "$curlwarm")" "$(verdict "$warm" "$(echo "1.5 * $curlwarm" | bc -l)")")"
  report "fetch: warm cycle outcomes" "$(sqlite3 "$dir/state/mirror.sqlite" "SELECT outcome || ' ' || COUNT(*) FROM fetch WHERE id > $n GROUP BY outcome" | tr '\n' ' ')"
  # The same cycles inside the daemon (what runs in production: no process start, no config
  # parse), timed by the daemon itself (plansync_sync_cycle_duration_seconds). Cold: the first
  # cycle of a daemon on an empty mirror; warm: cycles asked for with POST /v1/sync.
  local sock=$dir/state/status.sock pid
  cycle_after() {  # waits until $1 cycles ran, prints the last cycle's duration in seconds
    # First poll after 0.3 s, then every 0.1 s: each poll starts a curl process, and polling
    # every few milliseconds took CPU from the cycle being measured on a 2-core machine.
    local m
    sleep 0.3
    for _ in $(seq 1 200); do
      m=$(curl -s --unix-socket "$sock" http://localhost/metrics 2>/dev/null)
      [ "$(echo "$m" | awk '$1 == "plansync_sync_cycles_total" {print $2}')" -ge "$1" ] 2>/dev/null && break
      sleep 0.1
    done
    echo "$m" | awk '$1 == "plansync_sync_cycle_duration_seconds" {print $2}'
  }
  local coldtimes="" warmtimes=""
  for _ in $(seq 1 "$reps"); do
    rm -rf "$dir/state"; mkdir -p "$dir/state"
    "$BIN" daemon --config "$dir/plansync.toml" 2>/dev/null & pid=$!
    coldtimes+="$(cycle_after 1)"$'\n'
    kill -TERM $pid; wait $pid 2>/dev/null
  done
  "$BIN" daemon --config "$dir/plansync.toml" 2>/dev/null & pid=$!
  for _ in $(seq 1 200); do curl -s --unix-socket "$sock" http://localhost/v1/health >/dev/null 2>&1 && break; sleep 0.05; done
  local cycles=0 refetchtimes=""
  for _ in $(seq 1 "$reps"); do
    curl -s -X POST --unix-socket "$sock" http://localhost/v1/sync >/dev/null
    cycles=$((cycles + 1)); warmtimes+="$(cycle_after "$cycles")"$'\n'
  done
  # Cold fetches in a running daemon: the validators and body hashes forgotten, so all 500
  # come back 200 with their bodies, which are parsed and reconciled (values unchanged).
  for _ in $(seq 1 "$reps"); do
    sqlite3 "$dir/state/mirror.sqlite" "UPDATE feed SET etag = NULL, last_modified = NULL, body_sha256 = NULL"
    curl -s -X POST --unix-socket "$sock" http://localhost/v1/sync >/dev/null
    cycles=$((cycles + 1)); refetchtimes+="$(cycle_after "$cycles")"$'\n'
  done
  kill -TERM $pid; wait $pid 2>/dev/null
  local dcold dwarm drefetch
  dcold=$(printf '%s' "$coldtimes" | median); dwarm=$(printf '%s' "$warmtimes" | median); drefetch=$(printf '%s' "$refetchtimes" | median)
  report "fetch: $n feeds cold, first cycle of a new daemon (target ≤ 1.5× curl)" "$(printf '%.3f s = %s× curl  %s' "$dcold" "$(ratio "$dcold" "$curlcold")" "$(verdict "$dcold" "$(echo "1.5 * $curlcold" | bc -l)")")"
  report "fetch: $n feeds cold (all 200), a running daemon's cycle (target ≤ 1.5× curl)" "$(printf '%.3f s = %s× curl  %s' "$drefetch" "$(ratio "$drefetch" "$curlcold")" "$(verdict "$drefetch" "$(echo "1.5 * $curlcold" | bc -l)")")"
  report "fetch: $n feeds warm (304), a running daemon's cycle (target ≤ 1.5× curl)" "$(printf '%.3f s = %s× curl  %s' "$dwarm" "$(ratio "$dwarm" "$curlwarm")" "$(verdict "$dwarm" "$(echo "1.5 * $curlwarm" | bc -l)")")"
  kill $nginx 2>/dev/null; kill -9 $nginx 2>/dev/null
}

# The seed plan's report (issue 19): `plansync report` as a process, HTML and XLSX, median of
# 9, beside `plansync indicators`-like baselines in the same run: a process that only reads
# the configuration (`plansync check`) and sqlite3 reading the same verdicts.
reports() {
  local dir=$WORK/reports; rm -rf "$dir"; mkdir -p "$dir"
  sed -e "s#../../.demo/#$dir/#" -e "s#\"../plans#\"$PWD/Config/plans#" -e "s#file:../feeds#file:$PWD/Config/feeds#" \
    Config/demo/plansync.toml > "$dir/plansync.toml"
  "$BIN" sync --config "$dir/plansync.toml" >/dev/null 2>&1
  med() { sort -n | awk '{ v[NR] = $1 } END { printf "%.1f", v[int((NR + 1) / 2)] * 1000 }'; }
  times() { for _ in $(seq 1 9); do t0=$(now); "$@" >/dev/null 2>&1; t1=$(now); elapsed "$t0" "$t1"; done | med; }
  report "report: baseline, plansync check (process, config)" "$(times "$BIN" check --config "$dir/plansync.toml") ms"
  report "report: baseline, sqlite3 reading the verdicts" "$(times sqlite3 "$dir/mirror.sqlite" 'SELECT json FROM verdict') ms"
  report "report: seed plan, HTML (target ≤ 50 ms)" "$(times "$BIN" report --config "$dir/plansync.toml" -o "$dir/r.html") ms, $(du -k "$dir/r.html" | cut -f1) KiB"
  report "report: seed plan, XLSX (target ≤ 50 ms)" "$(times "$BIN" report --config "$dir/plansync.toml" -o "$dir/r.xlsx") ms, $(du -k "$dir/r.xlsx" | cut -f1) KiB"
  report "report: seed plan, CSV" "$(times "$BIN" report --config "$dir/plansync.toml" -o "$dir/r.csv") ms"
}

for part in $ONLY; do $part; echo; done
