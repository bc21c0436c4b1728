#!/usr/bin/env bash
# A worker on a disk that fills up, then frees: run in a private mount namespace
# (unshare --mount --propagation private), so the small tmpfs exists only here and goes with it.
# Usage: full-disk.sh PLANQ FOLDER. Prints key=value lines for the test to check.
set -u
planq=$1 dir=$2
mkdir -p "$dir/disk" "$dir/ro"
mount -t tmpfs -o size=2m tmpfs "$dir/disk" || { echo "mount=failed"; exit 1; }
db="$dir/disk/planq.db"
payload=$(head -c 3000 /dev/zero | tr '\0' x)
for i in 1 2 3 4 5 6; do
    echo "{\"version\":1,\"steps\":[{\"id\":\"a\",\"call\":\"echo\",\"input\":\"$payload\"}]}" | "$planq" enqueue --db "$db" --delay 3s - >/dev/null
done
"$planq" worker --db "$db" --concurrency 2 >/dev/null 2>"$dir/worker.log" &
worker=$!
sleep 0.5
dd if=/dev/zero of="$dir/disk/fill" bs=4k 2>/dev/null
echo "enqueue_on_full_disk=$("$planq" enqueue --db "$db" - <<<'{"version":1,"steps":[{"id":"a","call":"echo"}]}' >/dev/null 2>&1; echo $?)"
ticks() { awk '{print $14 + $15}' "/proc/$worker/stat"; }
before=$(ticks)
sleep 5   # the jobs fall due after 3 s: every claim meets a full disk
echo "cpu_ticks_in_5s=$(( $(ticks) - before ))"
echo "log_lines_while_full=$(wc -l <"$dir/worker.log")"
echo "fault_lines=$(grep -c 'store fault' "$dir/worker.log")"
rm "$dir/disk/fill"
for _ in $(seq 1 200); do
    [ "$(sqlite3 "$db" "SELECT count(*) FROM jobs WHERE state = 'succeeded'")" = 6 ] && break
    sleep 0.1
done
echo "succeeded=$(sqlite3 "$db" "SELECT count(*) FROM jobs WHERE state = 'succeeded'")"
echo "recovered_lines=$(grep -c 'store recovered' "$dir/worker.log")"
echo "repeated_steps=$(sqlite3 "$db" "SELECT count(*) FROM step_results WHERE attempt > 1")"
kill -TERM "$worker"
wait "$worker"
echo "worker_exit=$?"
# A running job whose heartbeats meet the full disk (a 900 ms lease: one due every 300 ms): the
# worker must back off instead of asking again at every turn; once its lease runs out unrenewed it
# stops the run (another worker could take the job then), and the next run ends it once the disk frees.
hb="$dir/disk/heartbeat.db"
"$planq" enqueue --db "$hb" - <<<'{"version":1,"steps":[{"id":"nap","call":"sleep","input":{"for":"4s"}}]}' >/dev/null
"$planq" worker --db "$hb" --concurrency 1 --lease 900ms >/dev/null 2>"$dir/heartbeat.log" &
worker=$!
for _ in $(seq 1 100); do
    [ "$(sqlite3 "$hb" "SELECT count(*) FROM step_results")" = 1 ] && break
    sleep 0.05
done
dd if=/dev/zero of="$dir/disk/fill" bs=4k 2>/dev/null
before=$(ticks)
sleep 2
echo "heartbeat_cpu_ticks_in_2s=$(( $(ticks) - before ))"
rm "$dir/disk/fill"
for _ in $(seq 1 200); do
    [ "$(sqlite3 "$hb" "SELECT state FROM jobs")" = succeeded ] && break
    sleep 0.1
done
echo "heartbeat_job=$(sqlite3 "$hb" "SELECT state || ' ' || runs FROM jobs")"
echo "lapsed_lines=$(grep -c 'lease ran out unrenewed' "$dir/heartbeat.log")"
kill -TERM "$worker"
wait "$worker"
# The same database through a read-only mount: refused with 69, nothing crashes.
mount --bind "$dir/disk" "$dir/ro" && mount -o remount,bind,ro "$dir/ro"
echo "enqueue_read_only=$("$planq" enqueue --db "$dir/ro/planq.db" - <<<'{"version":1,"steps":[{"id":"a","call":"echo"}]}' >/dev/null 2>"$dir/ro.err"; echo $?)"
echo "read_only_message=$(grep -c 'unable to open database file\|readonly' "$dir/ro.err")"
umount "$dir/ro"
umount "$dir/disk"
