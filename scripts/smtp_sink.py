"""An SMTP server that keeps every message it receives, for the tests.

    python3 scripts/smtp_sink.py --dir DIR [--port PORT] [--refuse ADDRESS]...
        [--defer ADDRESS:COUNT]... [--tls-cert PEM --tls-key PEM --tls starttls|implicit]
        [--login USER:PASSWORD]

Listens on 127.0.0.1:PORT (0, the default, picks a free port) and prints "ready PORT" once
it accepts connections. Each message becomes DIR/<sequence>.eml (the bytes as received) and
DIR/<sequence>.json (envelope, headers and the decoded text and HTML parts, so tests need no
MIME parser). Both are written to temporary names and renamed, the .json last, so a reader
that sees the .json sees a whole message.

- RCPT TO an address given with --refuse gets a permanent 550.
- The first COUNT messages to an address given with --defer get a transient 451 after their
  DATA; each refused one is logged to DIR/deferred.jsonl (recipient and Message-ID), so a
  test can compare the identity of every attempt.
- --tls starttls offers STARTTLS and requires it before MAIL; --tls implicit speaks TLS from
  the first byte (smtps). --login requires AUTH LOGIN or PLAIN with those credentials (over
  TLS when TLS is on).

Stops on SIGTERM or when its standard input closes.
"""

import argparse
import email
import email.policy
import itertools
import json
import os
import signal
import socket
import ssl
import sys

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def write_atomically(path, data):
    with open(path + ".tmp", "wb") as out:
        out.write(data)
    os.rename(path + ".tmp", path)


def append_line(path, record):
    with open(path, "a", encoding="utf-8") as out:
        out.write(json.dumps(record) + "\n")


def part(message, subtype):
    body = message.get_body(preferencelist=(subtype,))
    return None if body is None else body.get_content()


class Keep:
    def __init__(self, directory, refused, deferred):
        self.directory = directory
        self.refused = {address.lower() for address in refused}
        self.deferred = {address.lower(): count for address, count in deferred.items()}
        self.sequence = itertools.count(1)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in self.refused:
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or envelope.content
        message = email.message_from_bytes(raw, policy=email.policy.default)
        for address in envelope.rcpt_tos:
            left = self.deferred.get(address.lower(), 0)
            if left > 0:
                self.deferred[address.lower()] = left - 1
                append_line(
                    os.path.join(self.directory, "deferred.jsonl"),
                    {"rcpt_to": address, "message_id": str(message["Message-ID"])},
                )
                return "451 4.3.0 Try again later"
        number = next(self.sequence)
        base = os.path.join(self.directory, f"{number:06d}")
        write_atomically(base + ".eml", raw)
        summary = {
            "mail_from": envelope.mail_from,
            "rcpt_to": envelope.rcpt_tos,
            "from": str(message["From"]),
            "to": str(message["To"]),
            "subject": str(message["Subject"]),
            "message_id": str(message["Message-ID"]),
            "auto_submitted": message.get("Auto-Submitted"),
            "reply_to": message.get("Reply-To"),
            "content_type": message.get_content_type(),
            "text": part(message, "plain"),
            "html": part(message, "html"),
            "tls": server.transport.get_extra_info("ssl_object") is not None,
            "login": bool(session.authenticated),
        }
        write_atomically(base + ".json", json.dumps(summary).encode())
        return "250 Message accepted"


class Credentials:
    def __init__(self, user, password):
        self.user, self.password = user.encode(), password.encode()

    def __call__(self, server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == self.user
            and auth_data.password == self.password
        )
        return AuthResult(success=ok, handled=False)


class AnyPortController(Controller):
    """Binds the socket itself, so that port 0 works and the chosen port is known before the
    server is triggered."""

    def _create_server(self):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.hostname, self.port))
        self.port = sock.getsockname()[1]
        return self.loop.create_server(
            self._factory_invoker, sock=sock, ssl=self.ssl_context
        )


def deferral(text):
    address, _, count = text.rpartition(":")
    return address, int(count)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--dir", required=True)
    parser.add_argument("--refuse", action="append", default=[])
    parser.add_argument("--defer", action="append", default=[], type=deferral)
    parser.add_argument("--tls", choices=["starttls", "implicit"])
    parser.add_argument("--tls-cert")
    parser.add_argument("--tls-key")
    parser.add_argument("--login")
    args = parser.parse_args()
    os.makedirs(args.dir, exist_ok=True)

    # A modern server: addresses beyond ASCII (RFC 6531) are welcome.
    options = {"enable_SMTPUTF8": True}
    tls = None
    if args.tls:
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(args.tls_cert, args.tls_key)
    if args.tls == "starttls":
        options.update(tls_context=tls, require_starttls=True)
    if args.login:
        user, _, password = args.login.partition(":")
        options.update(
            authenticator=Credentials(user, password),
            auth_required=True,
            auth_require_tls=args.tls is not None,
        )
    controller = AnyPortController(
        Keep(args.dir, args.refuse, dict(args.defer)),
        hostname="127.0.0.1",
        port=args.port,
        ssl_context=tls if args.tls == "implicit" else None,
        **options,
    )
    controller.start()
    print(f"ready {controller.port}", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: (controller.stop(), sys.exit(0)))
    try:
        sys.stdin.read()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
