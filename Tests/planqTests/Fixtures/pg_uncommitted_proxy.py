"""A TCP proxy in front of a PostgreSQL server that makes one statement look done without its commit.

    pg_uncommitted_proxy.py UPSTREAM_HOST UPSTREAM_PORT PATTERN

Listens on a free loopback port and prints "listening PORT". Every connection is forwarded to
the server as it is, until a client binds a statement whose SQL (from its Parse) matches the
regular expression PATTERN, the first time on any connection. That statement's Sync is sent as a
Flush instead: the server executes it and answers it (CommandComplete or an error) but does not
end its implicit transaction, nor a transaction the client began. The proxy passes that answer to
the client, then cuts both connections, so the server rolls the statement back: what a backend
told to quit does after answering and before committing. The cut comes a second after the answer,
or at the client's next message if sooner (never forwarded). It prints "cut SQL" then, and forwards
later connections unchanged. Messages are read whole in both directions (the protocol's
framing); connections must not use TLS (the proxy refuses SSLRequest, as a server without TLS).
"""
import re
import socket
import struct
import sys
import threading

upstream = (sys.argv[1], int(sys.argv[2]))
pattern = re.compile(sys.argv[3])
armed = threading.Lock()
fired = False
SSL_REQUEST, GSS_REQUEST = 80877103, 80877104


def read_exact(sock, count):
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return data


def read_message(sock):
    """A typed message: its type byte, its whole bytes."""
    head = read_exact(sock, 5)
    (length,) = struct.unpack("!I", head[1:5])
    return head[0:1], head + read_exact(sock, length - 4)


def cstring(body, offset):
    end = body.index(b"\0", offset)
    return body[offset:end].decode("utf-8", "replace"), end + 1


def take_turn():
    """True once: this connection is the one to cut."""
    global fired
    with armed:
        if fired:
            return False
        fired = True
        return True


def serve(client):
    server = socket.create_connection(upstream)
    done = threading.Event()

    def close_both():
        done.set()
        for sock in (client, server):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    # The server's messages go back as they come, except after a cut statement's Flush: then up
    # to its answer, and the connections are cut.
    cutting = threading.Event()
    answered = threading.Event()

    def backward():
        try:
            while True:
                kind, message = read_message(server)
                client.sendall(message)
                if cutting.is_set() and kind in (b"C", b"E", b"I"):
                    # The client has the answer; the cut comes a second later (or at its next
                    # message), so that the answer is read before the end of the stream.
                    answered.wait(1.0)
                    print("cut", cut_sql[0], flush=True)
                    close_both()
                    return
        except (EOFError, OSError):
            if not done.is_set():
                close_both()

    cut_sql = [""]
    try:
        # Startup: untyped messages; an SSL or GSS request is answered "no" here.
        while True:
            (length,) = struct.unpack("!I", read_exact(client, 4))
            body = read_exact(client, length - 4)
            (code,) = struct.unpack("!I", body[:4])
            if code in (SSL_REQUEST, GSS_REQUEST):
                client.sendall(b"N")
                continue
            server.sendall(struct.pack("!I", length) + body)
            break
        threading.Thread(target=backward, daemon=True).start()
        statements = {}
        bound = None
        while not done.is_set():
            kind, message = read_message(client)
            if cutting.is_set():
                answered.set()
                break
            body = message[5:]
            if kind == b"P":
                name, offset = cstring(body, 0)
                sql, _ = cstring(body, offset)
                statements[name] = sql
            elif kind == b"B":
                _, offset = cstring(body, 0)
                name, _ = cstring(body, offset)
                sql = statements.get(name, "")
                if pattern.search(sql) and take_turn():
                    bound = sql
            elif kind == b"S" and bound is not None:
                cut_sql[0] = " ".join(bound.split())[:120]
                cutting.set()
                server.sendall(b"H" + struct.pack("!I", 4))
                bound = None
                continue
            server.sendall(message)
    except (EOFError, OSError):
        pass
    if not cutting.is_set():
        close_both()


listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", 0))
listener.listen(64)
print("listening", listener.getsockname()[1], flush=True)
while True:
    connection, _ = listener.accept()
    threading.Thread(target=serve, args=(connection,), daemon=True).start()
