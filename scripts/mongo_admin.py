"""Admin helper for scripts/mongod.sh and scripts/mongod-replset.sh.

Usage:
  python3 mongo_admin.py PORT initiate
      turns a fresh mongod into a writable single-node replica set "rs0"
  python3 mongo_admin.py PORT initiate-set NAME PORT0 PORT1 PORT2
      initiates the three-member set NAME once (through the member on PORT), equal priorities, a 2 s
      election timeout; waits until the set has a writable primary
Needs pymongo on sys.path (mongod.sh installs it into .test-services/pylib).
"""

import sys
import time

from pymongo import MongoClient
from pymongo.errors import OperationFailure, PyMongoError

# 23 = AlreadyInitialized: a second start reuses the replica set.
ALREADY_INITIALIZED = 23


def wait_for_hello(client: MongoClient, field: str, what: str) -> None:
    """Waits (at most 60 s) until the server's `hello` answer has `field` set."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if client.admin.command("hello").get(field):
                return
        except PyMongoError:
            pass
        time.sleep(0.1)
    sys.exit(f"mongo_admin.py: {what} did not elect a primary within 60 s")


def initiate(port: int) -> None:
    client = MongoClient(
        "127.0.0.1", port, directConnection=True, serverSelectionTimeoutMS=20000
    )
    try:
        client.admin.command(
            "replSetInitiate",
            {"_id": "rs0", "members": [{"_id": 0, "host": f"127.0.0.1:{port}"}]},
        )
    except OperationFailure as err:
        if err.code != ALREADY_INITIALIZED:
            raise
    wait_for_hello(client, "isWritablePrimary", "the replica set")


def initiate_set(port: int, name: str, ports: list[int]) -> None:
    client = MongoClient(
        "127.0.0.1", port, directConnection=True, serverSelectionTimeoutMS=20000
    )
    # Equal priorities: after a failover the new primary keeps the role (a preferred member
    # would call a second election once it caught up).
    members = [{"_id": i, "host": f"127.0.0.1:{p}"} for i, p in enumerate(ports)]
    config = {
        "_id": name,
        "members": members,
        "settings": {"electionTimeoutMillis": 2000, "heartbeatIntervalMillis": 500},
    }
    try:
        client.admin.command("replSetInitiate", config)
    except OperationFailure as err:
        if err.code != ALREADY_INITIALIZED:
            raise
    seed = ",".join(f"127.0.0.1:{p}" for p in ports)
    set_client = MongoClient(
        f"mongodb://{seed}/?replicaSet={name}", serverSelectionTimeoutMS=60000
    )
    wait_for_hello(set_client, "primary", f"the replica set {name}")
    # Every member up and in sync before a test kills one.
    deadline = time.monotonic() + 60
    states = []
    while time.monotonic() < deadline:
        try:
            states = [m["stateStr"] for m in set_client.admin.command("replSetGetStatus")["members"]]
            if sorted(states) == ["PRIMARY", "SECONDARY", "SECONDARY"]:
                return
        except PyMongoError as err:
            states = [f"replSetGetStatus failed: {err}"]
        time.sleep(0.2)
    sys.exit(f"mongo_admin.py: the members of {name} did not all come up within 60 s: {states}")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[2] == "initiate":
        initiate(int(sys.argv[1]))
    elif len(sys.argv) == 7 and sys.argv[2] == "initiate-set":
        initiate_set(int(sys.argv[1]), sys.argv[3], [int(p) for p in sys.argv[4:7]])
    else:
        sys.exit("usage: mongo_admin.py PORT initiate | PORT initiate-set NAME P0 P1 P2")
