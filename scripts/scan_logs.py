"""Scans every log line the test suite captured for what must never be logged.

    python3 scripts/scan_logs.py DIR      exit 1 (listing each finding) if any line of any
                                          file in DIR holds an API token, an invitation
                                          secret or link, a message key, a bearer
                                          credential, a password
                                          or SMTP credential the tests use, or a query string
    python3 scripts/scan_logs.py --self-test
                                          checks that each rule catches what it is for and
                                          lets ordinary lines pass

The suite writes the logs of every server process and of the in-process servers to DIR
(`INVITATIONS_TEST_LOG_DIR`, set by scripts/test.sh). An empty DIR is a failure too: a scan
of nothing proves nothing.
"""

import os
import re
import sys

B64 = r"[A-Za-z0-9_-]"
RULES = [
    ("an API token", re.compile(r"cmsi_" + B64 + r"{20,}")),
    ("an invitation link", re.compile(r"secret=" + B64 + r"{20,}")),
    (
        "a 256-bit secret",
        re.compile(r"(?<!" + B64 + r")" + B64 + r"{43}(?!" + B64 + r")"),
    ),
    (
        "a message key (base64 of 32 bytes)",
        re.compile(r"(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{43}=(?![A-Za-z0-9+/=])"),
    ),
    ("a bearer credential", re.compile(r"[Bb]earer\s+\S{8,}")),
    (
        "a password the tests use",
        re.compile(r"correct horse battery|a long passphrase|s3cret|hunter2"),
    ),
    ("a query string", re.compile(r"/graphql\?|[?&]query=")),
]

# A UUID, hex digest or timestamp is no secret; nor is a Message-ID's UUID.
HARMLESS = re.compile(r"^[0-9a-fA-F-]+$")


def findings(line):
    for name, rule in RULES:
        for match in rule.finditer(line):
            if name == "a 256-bit secret" and HARMLESS.match(match.group(0)):
                continue
            yield name, match.group(0)


def scan(directory):
    files = sorted(
        os.path.join(directory, name)
        for name in os.listdir(directory)
        if name.endswith(".log")
    )
    lines = 0
    found = []
    for path in files:
        with open(path, encoding="utf-8", errors="replace") as log:
            for number, line in enumerate(log, 1):
                lines += 1
                for name, text in findings(line):
                    found.append(f"{path}:{number}: {name}: {text[:12]}...")
    return files, lines, found


def self_test():
    token = "cmsi_" + "Ab1_" * 10 + "xyz"
    secret = "Zz9-" * 10 + "abc"
    must_catch = [
        f'{{"message":"request","authorization":"Bearer {token}"}}',
        f"https://app.example.org/accept#secret={secret}",
        f'{{"fields":{{"secret":"{secret}"}}}}',
        '{"password":"correct horse battery"}',
        '{"uri":"/graphql?query=%7B%7D"}',
        '{"key":"KioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKio="}',
    ]
    must_pass = [
        '{"level":"INFO","message":"message sent","message_id":"019abcde-0123-7abc-8def-0123456789ab"}',
        '{"message":"listening","address":"127.0.0.1:40211"}',
        '{"message":"message not sent","error":"sealed with message key 3c5ef48307b1d6c7"}',
        '{"message":"request","method":"POST","route":"/graphql","status":200,"millis":3}',
    ]
    failures = [line for line in must_catch if not list(findings(line))]
    failures += [line for line in must_pass if list(findings(line))]
    for line in failures:
        print(f"scan_logs.py self-test: wrong verdict for {line}", file=sys.stderr)
    return 1 if failures else 0


def main():
    if sys.argv[1:] == ["--self-test"]:
        return self_test()
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    files, lines, found = scan(sys.argv[1])
    if not files or lines == 0:
        print(f"scan_logs.py: no captured log lines in {sys.argv[1]}", file=sys.stderr)
        return 1
    for finding in found:
        print(finding, file=sys.stderr)
    print(f"scan_logs.py: {lines} log lines in {len(files)} files, {len(found)} findings")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
