"""A tiny HTTP server for planq's tests, on 127.0.0.1 only.

GET /ok          -> 200 {"hello": "world"}
GET /flaky/NAME  -> 503 the first two times for NAME, then 200
GET /missing     -> 404
Every request's Idempotency-Key header (and traceparent, when sent) is appended to the file given as argv[1].
Writes the port it listens on to the file given as argv[2], then serves until killed.
"""
import http.server
import json
import sys
import threading

log_path = sys.argv[1]
counts = {}
lock = threading.Lock()


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        with lock:
            with open(log_path, "a") as log:
                trace = self.headers.get('traceparent')
                log.write(f"{self.path} {self.headers.get('Idempotency-Key')}" + (f" traceparent={trace}" if trace else "") + "\n")
            counts[self.path] = counts.get(self.path, 0) + 1
            seen = counts[self.path]
        if self.path == "/ok" or (self.path.startswith("/flaky/") and seen > 2):
            self.reply(200, {"hello": "world", "seen": seen})
        elif self.path.startswith("/flaky/"):
            self.reply(503, {"error": "busy"})
        else:
            self.reply(404, {"error": "not found"})

    def reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(sys.argv[2] + ".tmp", "w") as port_file:
    port_file.write(str(server.server_address[1]))
import os
os.rename(sys.argv[2] + ".tmp", sys.argv[2])
server.serve_forever()
