"""One enqueue as a process, start to exit: `planq enqueue PLAN` (a new plan each time) against
the `sqlite3` shell inserting one row into the same database, medians over `samples` runs each,
in turns. Prints one JSON object: enqueue_process_ms, sqlite3_insert_process_ms (medians).

    process_bench.py PLANQ [samples]
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time


def main():
    planq = sys.argv[1]
    samples = int(sys.argv[2]) if len(sys.argv) > 2 else 50
    with tempfile.TemporaryDirectory(prefix="planq-process-") as folder:
        database = os.path.join(folder, "planq.db")
        plans = []
        for index in range(samples + 1):
            path = os.path.join(folder, f"plan-{index}.json")
            with open(path, "w") as plan:
                json.dump({"version": 1, "idempotency_key": f"process-{index}", "input": {},
                           "steps": [{"id": "s0", "call": "echo", "input": {"n": index, "text": "hello"}}]}, plan)
            plans.append(path)
        # The database exists, migrated, with the shell's table, before the first measurement.
        run([planq, "enqueue", "--db", database, plans.pop()])
        run(["sqlite3", database, "CREATE TABLE shell_rows (id INTEGER PRIMARY KEY, k TEXT NOT NULL UNIQUE, body TEXT NOT NULL)"])
        planq_times, shell_times = [], []
        for index, plan in enumerate(plans):
            planq_times.append(timed([planq, "enqueue", "--db", database, plan]))
            shell_times.append(timed(["sqlite3", database, f"INSERT INTO shell_rows (k, body) VALUES ('k{index}', 'hello')"]))
    print(json.dumps({"enqueue_process_ms": round(statistics.median(planq_times), 2),
                      "sqlite3_insert_process_ms": round(statistics.median(shell_times), 2)}, sort_keys=True))


def run(command):
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)


def timed(command):
    started = time.perf_counter()
    run(command)
    return (time.perf_counter() - started) * 1000


if __name__ == "__main__":
    main()
