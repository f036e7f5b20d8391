"""Measures the hardened edge against a server binary, as an attacker would meet it.

    python3 scripts/edge_check.py [BINARY]     default: target/release/cms-invitations

Starts BINARY on a fresh data folder (embedded store, port 0, default settings) and prints:

  - the size of /metrics after 1,000 requests with distinct made-up 2 KB methods;
  - how long a connection that stalls mid-header stays open (default timeout 10 s);
  - what one request with 1,200 aliased `totalCount`s gets, and one with 5,000;
  - what documents nested 40,000 and 100,000 brackets deep get, and whether the server
    still answers;
  - how long fragments spreading each other into 4^30 selections take to be refused.

Exits 1 if the server stops answering or answers any of these with a 5xx.
"""

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request


def start(binary, data_dir):
    env = {
        "PATH": os.environ.get("PATH", ""),
        "INVITATIONS_DATA_DIR": data_dir,
        "INVITATIONS_LISTEN": "127.0.0.1:0",
        "INVITATIONS_LOG_FORMAT": "json",
    }
    server = subprocess.Popen(
        [binary, "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    for line in server.stderr:
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if event.get("message") == "listening":
            host, port = event["address"].rsplit(":", 1)
            # Keep reading its log, or the server blocks once the pipe is full.
            threading.Thread(target=server.stderr.read, daemon=True).start()
            return server, (host, int(port))
        if time.monotonic() > deadline:
            break
    server.kill()
    sys.exit("the server did not start")


def raw(address, data, read_limit=30.0):
    """Sends bytes, half-closes, reads the answer; its status code or None."""
    with socket.create_connection(address, timeout=read_limit) as conn:
        conn.sendall(data)
        conn.shutdown(socket.SHUT_WR)
        received = b""
        try:
            while chunk := conn.recv(65536):
                received += chunk
        except OSError:
            pass
    first = received.split(b"\r\n", 1)[0].split()
    return int(first[1]) if len(first) > 1 and first[0].startswith(b"HTTP/") else None


def graphql(address, token, query):
    body = json.dumps({"query": query}).encode()
    request = urllib.request.Request(
        f"http://{address[0]}:{address[1]}/graphql",
        data=body,
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=120) as answer:
            status, payload = answer.status, json.load(answer)
    except urllib.error.HTTPError as refused:
        status, payload = refused.code, json.load(refused)
    took = time.monotonic() - started
    message = (payload.get("errors") or [{}])[0].get("message", "(data)")
    return status, message, took


def healthy(address):
    with urllib.request.urlopen(f"http://{address[0]}:{address[1]}/healthz", timeout=10) as a:
        return a.status == 200


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else "target/release/cms-invitations"
    failures = 0
    with tempfile.TemporaryDirectory() as data_dir:
        server, address = start(binary, data_dir)
        try:
            with open(os.path.join(data_dir, "bootstrap-admin-token")) as f:
                token = f.read().strip()

            for i in range(1000):
                method = f"M{i:04d}" + "X" * 2043
                raw(address, f"{method} /graphql HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            with urllib.request.urlopen(
                f"http://{address[0]}:{address[1]}/metrics", timeout=10
            ) as answer:
                metrics = answer.read()
            print(f"/metrics after 1,000 made-up 2 KB methods: {len(metrics):,} bytes")

            with socket.create_connection(address) as conn:
                conn.sendall(b"POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Le")
                started = time.monotonic()
                conn.settimeout(120)
                while conn.recv(65536):
                    pass
                print(f"a connection stalled mid-header was closed after {time.monotonic() - started:.1f} s")

            for count in (1200, 5000):
                aliases = " ".join(
                    f'c{i}: invitations(first: 1, filter: {{emailContains: "x"}}) {{ totalCount }}'
                    for i in range(count)
                )
                status, message, took = graphql(address, token, "{ " + aliases + " }")
                failures += status >= 500
                print(f"{count:,} aliased counts ({len(aliases):,} bytes): {status} in {took * 1000:.0f} ms, \"{message}\"")

            for depth in (40_000, 100_000):
                deep = "query { invitations(filter: {states: " + "[" * depth + "PENDING" + "]" * depth + "}) { totalCount } }"
                status, message, took = graphql(address, token, deep)
                failures += status >= 500
                print(f"a document nested {depth:,} deep: {status} in {took * 1000:.0f} ms, \"{message}\"; still healthy: {healthy(address)}")

            fan_out = "query { ...F0 }" + "".join(
                f" fragment F{i} on Query {{ {('...F%d ' % (i + 1)) * 4}}}" for i in range(30)
            ) + " fragment F30 on Query { __typename }"
            status, message, took = graphql(address, token, fan_out)
            failures += status >= 500
            print(f"fragments fanning out to 4^30 selections: {status} in {took * 1000:.0f} ms, \"{message}\"")
            if not healthy(address):
                failures += 1
        finally:
            server.terminate()
            server.wait(timeout=30)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
