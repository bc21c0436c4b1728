"""Holds COUNT idle TCP connections to HOST:PORT open, opening a new one for each the server
closes, until its standard input ends: a client that tries to exhaust a server's descriptors.

    hold_connections.py HOST PORT COUNT

Prints "holding N" once after its first round of connections, "closed N" each second (how many
the server has closed so far) and statistics at the end.
"""
import resource
import selectors
import socket
import sys
import time

host, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, count + 64), hard))
selector = selectors.DefaultSelector()
opened = closed_by_server = failed = 0


def connect():
    global opened, failed
    try:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    except OSError:
        failed += 1
        return
    sock.setblocking(False)
    sock.connect_ex((host, port))
    selector.register(sock, selectors.EVENT_READ)
    opened += 1


def report():
    print(f"opened {opened}, closed by the server {closed_by_server}, failed {failed}", flush=True)
    sys.exit(0)


selector.register(sys.stdin, selectors.EVENT_READ)
for _ in range(count):
    connect()
print(f"holding {len(selector.get_map()) - 1}", flush=True)
last_report = time.monotonic()
while True:
    if time.monotonic() - last_report >= 1:
        print(f"closed {closed_by_server}", flush=True)
        last_report = time.monotonic()
    for key, _ in selector.select(timeout=0.2):
        if key.fileobj is sys.stdin:
            if not sys.stdin.buffer.read1(4096):
                report()
            continue
        try:
            data = key.fileobj.recv(4096)
        except OSError:
            data = b""
        if not data:
            selector.unregister(key.fileobj)
            key.fileobj.close()
            closed_by_server += 1
    while len(selector.get_map()) - 1 < count:
        connect()
        if failed and failed % 100 == 0:
            time.sleep(0.05)
