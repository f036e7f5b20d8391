"""Admin helper for scripts/mongod.sh: turns a fresh mongod into a writable single-node replica set.

Usage: python3 mongo_admin.py PORT initiate
Needs pymongo on sys.path (mongod.sh installs it into .test-services/pylib).
"""

import sys
import time

from pymongo import MongoClient
from pymongo.errors import OperationFailure, PyMongoError


def initiate(port: int) -> None:
    client = MongoClient(
        "127.0.0.1", port, directConnection=True, serverSelectionTimeoutMS=20000
    )
    deadline = time.monotonic() + 60
    try:
        client.admin.command(
            "replSetInitiate",
            {"_id": "rs0", "members": [{"_id": 0, "host": f"127.0.0.1:{port}"}]},
        )
    except OperationFailure as err:
        # 23 = AlreadyInitialized: a second start reuses the replica set.
        if err.code != 23:
            raise
    while time.monotonic() < deadline:
        try:
            if client.admin.command("hello").get("isWritablePrimary"):
                return
        except PyMongoError:
            pass
        time.sleep(0.1)
    sys.exit("mongo_admin.py: the replica set did not elect a primary within 60 s")


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[2] != "initiate":
        sys.exit("usage: mongo_admin.py PORT initiate")
    initiate(int(sys.argv[1]))
