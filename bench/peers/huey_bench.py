"""Huey 3.5.4's figures for `make bench`, measured as `planq bench` measures planq's.

enqueue_per_s: `tasks` enqueue calls in one process, one task each.
tasks_per_s: those tasks processed by a consumer with 2 worker processes (`-w 2 -k process`),
    from its first task taken to its queue empty (its start-up is not counted).
wakeup_p50_ms, wakeup_p99_ms: enqueue to the task's start, with the consumer's default polling,
    one task at a time, 20 ms after the previous one started (as planq's wake-up figure).
Prints one JSON object.
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time


def main():
    tasks = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    samples = int(sys.argv[2]) if len(sys.argv) > 2 else 50
    here = os.path.dirname(os.path.abspath(__file__))
    consumer = os.path.join(os.path.dirname(sys.executable), "huey_consumer")
    with tempfile.TemporaryDirectory(prefix="planq-huey-") as folder:
        os.environ["HUEY_DB"] = os.path.join(folder, "huey.db")
        sys.path.insert(0, here)
        import huey_tasks

        figures = {"huey_version": huey_version()}
        started = time.perf_counter()
        for _ in range(tasks):
            huey_tasks.noop()
        figures["enqueue_per_s"] = round(tasks / (time.perf_counter() - started), 1)

        environment = dict(os.environ, PYTHONPATH=here)
        # In a session of its own, so that the consumer and its worker processes go together.
        process = subprocess.Popen([consumer, "huey_tasks.huey", "-w", "2", "-k", "process"], cwd=here, env=environment,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            storage = huey_tasks.huey.storage
            while storage.queue_size() == tasks:
                time.sleep(0.001)
            first, left = time.perf_counter(), storage.queue_size()
            while storage.queue_size() > 0:
                time.sleep(0.005)
            figures["tasks_per_s"] = round(left / (time.perf_counter() - first), 1)

            time.sleep(0.5)  # the last tasks finish; the consumer polls an empty queue
            latencies = []
            for _ in range(samples):
                time.sleep(0.02)
                sent = time.time()
                result = huey_tasks.started()
                began = result.get(blocking=True, timeout=30)
                latencies.append((began - sent) * 1000)
            latencies.sort()
            figures["wakeup_p50_ms"] = round(percentile(latencies, 0.5), 2)
            figures["wakeup_p99_ms"] = round(percentile(latencies, 0.99), 2)
        finally:
            stop(process)
    print(json.dumps(figures, sort_keys=True))


def stop(process):
    """Stops the consumer and its workers: SIGTERM, then SIGKILL to the whole group (a parent
    may have left SIGTERM blocked for its children)."""
    for sig, grace in ((signal.SIGTERM, 5), (signal.SIGKILL, 30)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=grace)
            os.killpg(process.pid, signal.SIGKILL)  # workers outliving their consumer
            return
        except subprocess.TimeoutExpired:
            continue
        except ProcessLookupError:
            return


def percentile(values, p):
    index = max(0, min(len(values) - 1, int(-(-len(values) * p // 1)) - 1))
    return values[index]


def huey_version():
    import huey
    return huey.__version__


if __name__ == "__main__":
    main()
