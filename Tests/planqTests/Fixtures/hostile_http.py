"""Hostile requests to an HTTP server at HOST:PORT; prints one JSON object of what each got.

    hostile_http.py HOST PORT

For each case: the status line's code the server answered ("closed" when it closed without an
answer) and how many seconds the connection stayed open.
"""
import json
import socket
import sys
import time

host, port = sys.argv[1], int(sys.argv[2])


def exchange(parts, pause=0.0, wait=12.0):
    """Sends parts (pausing between them), reads until the server closes; (code, seconds, answers)."""
    started = time.monotonic()
    sock = socket.create_connection((host, port), timeout=wait)
    received = b""
    try:
        for part in parts:
            sock.sendall(part)
            if pause:
                time.sleep(pause)
        while True:
            data = sock.recv(65536)
            if not data:
                break
            received += data
    except OSError:
        pass
    finally:
        sock.close()
    answers = received.count(b"HTTP/1.1 ")
    code = received.split(b" ")[1].decode() if received.startswith(b"HTTP/1.") else "closed"
    return code, round(time.monotonic() - started, 2), answers


results = {}
get = b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"
results["long_request_line"] = exchange([b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"])
results["many_headers"] = exchange([b"GET /metrics HTTP/1.1\r\n" + b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 100) for i in range(200)) + b"\r\n"])
results["pipelined"] = exchange([get * 5])
results["post"] = exchange([b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"])
results["dot_dot"] = exchange([b"GET /../metrics HTTP/1.1\r\nHost: x\r\n\r\n"])
results["encoded_dot_dot"] = exchange([b"GET /%2e%2e/etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n"])
results["garbage"] = exchange([b"\x00\xff\x16\x03\x01 hello\r\n\r\n"])
results["slowloris"] = exchange([bytes([c]) for c in b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"z" * 40], pause=0.25)
results["never_ends"] = exchange([b"GET /metrics HTTP/1.1\r\nHost: x\r\n"])
results["silent"] = exchange([])
results["after"] = exchange([get])
print(json.dumps(results))
