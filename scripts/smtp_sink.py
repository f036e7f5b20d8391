"""An SMTP server that keeps every message it receives, for the tests.

    python3 scripts/smtp_sink.py --port PORT --dir DIR [--refuse ADDRESS]...

Listens on 127.0.0.1:PORT. Each message becomes DIR/<sequence>.eml (the bytes as received)
and DIR/<sequence>.json (envelope, headers and the decoded text and HTML parts, so tests need
no MIME parser). Both are written to temporary names and renamed, the .json last, so a reader
that sees the .json sees a whole message. RCPT TO an address given with --refuse gets a
permanent 550. Prints "ready" once it accepts connections, and stops on SIGTERM or when its
standard input closes.
"""

import argparse
import email
import email.policy
import itertools
import json
import os
import signal
import sys

from aiosmtpd.controller import Controller


def write_atomically(path, data):
    with open(path + ".tmp", "wb") as out:
        out.write(data)
    os.rename(path + ".tmp", path)


def part(message, subtype):
    body = message.get_body(preferencelist=(subtype,))
    return None if body is None else body.get_content()


class Keep:
    def __init__(self, directory, refused):
        self.directory = directory
        self.refused = {address.lower() for address in refused}
        self.sequence = itertools.count(1)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in self.refused:
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        number = next(self.sequence)
        raw = envelope.original_content or envelope.content
        base = os.path.join(self.directory, f"{number:06d}")
        write_atomically(base + ".eml", raw)
        message = email.message_from_bytes(raw, policy=email.policy.default)
        summary = {
            "mail_from": envelope.mail_from,
            "rcpt_to": envelope.rcpt_tos,
            "from": str(message["From"]),
            "to": str(message["To"]),
            "subject": str(message["Subject"]),
            "message_id": str(message["Message-ID"]),
            "content_type": message.get_content_type(),
            "text": part(message, "plain"),
            "html": part(message, "html"),
        }
        write_atomically(base + ".json", json.dumps(summary).encode())
        return "250 Message accepted"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dir", required=True)
    parser.add_argument("--refuse", action="append", default=[])
    args = parser.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    controller = Controller(
        Keep(args.dir, args.refuse), hostname="127.0.0.1", port=args.port
    )
    controller.start()
    print("ready", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: (controller.stop(), sys.exit(0)))
    try:
        sys.stdin.read()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
