"""The tasks the Huey side of `make bench` runs: a no-op, and one that reports when it started."""
import os
import time

from huey import SqliteHuey

# Huey's SQLite storage with its defaults (WAL, SQLite's default synchronous, which is FULL).
huey = SqliteHuey(filename=os.environ["HUEY_DB"])


@huey.task()
def noop():
    pass


@huey.task()
def started():
    return time.time()
