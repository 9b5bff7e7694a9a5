"""The live subcommands of ``consensuslab``: ``serve``, ``cluster start|stop``, ``kv put|get|append``.

:func:`add_commands` adds them to the main parser (:mod:`consensuslab.cli`); :func:`run` runs one.
``cluster start`` launches n node processes on 127.0.0.1 (:class:`~consensuslab.live.cluster.LocalCluster`),
prints their addresses and returns, leaving them running; ``cluster stop`` kills them, found
through ``<dir>/cluster.json``. ``kv`` is a client (:class:`~consensuslab.live.client.LiveClient`)
that finds the leader and retries with the same client id and sequence number.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from consensuslab.live import serve as serve_module

__all__ = ["add_commands", "run", "COMMANDS"]

COMMANDS = ("serve", "cluster", "kv")
DEFAULT_DIR = ".consensuslab-cluster"


def add_commands(sub: Any) -> None:
    serve = sub.add_parser("serve", help="run one live node (UDP on its host:port, storage in --data-dir)",
                           description="Run one live protocol node until SIGTERM/SIGINT.")
    serve_module.add_arguments(serve)

    cluster = sub.add_parser("cluster", help="start or stop a local live cluster (separate processes)",
                             description="Start or stop a local live cluster on 127.0.0.1.")
    csub = cluster.add_subparsers(dest="action", metavar="ACTION")
    csub.required = True
    start = csub.add_parser("start", help="launch n node processes and print their addresses")
    start.add_argument("--n", type=int, default=3, help="number of nodes (1-15, default 3)")
    start.add_argument("--protocol", default="raft", help="protocol (default raft)")
    start.add_argument("--dir", default=DEFAULT_DIR, help=f"cluster folder (default {DEFAULT_DIR})")
    start.add_argument("--options", default="{}", help="protocol options as JSON")
    start.add_argument("--no-fsync", action="store_true", help="do not fsync persisted state")
    stop = csub.add_parser("stop", help="kill the processes of the cluster in --dir")
    stop.add_argument("--dir", default=DEFAULT_DIR, help=f"cluster folder (default {DEFAULT_DIR})")

    kv = sub.add_parser("kv", help="a KV client of a live cluster", description="Run one KV operation.")
    kv.add_argument("op", choices=["put", "get", "append"])
    kv.add_argument("key")
    kv.add_argument("value", nargs="?", default=None)
    kv.add_argument("--dir", default=DEFAULT_DIR, help="cluster folder whose cluster.json names the nodes")
    kv.add_argument("--peers", default=None, help="host:port,... instead of --dir")
    kv.add_argument("--timeout", type=float, default=5000.0, help="give up after this many ms (default 5000)")


def _addresses(args: argparse.Namespace) -> list[tuple[str, int]]:
    from consensuslab.live.runtime import parse_peers

    if args.peers:
        return parse_peers(args.peers)
    state = Path(args.dir) / "cluster.json"
    if not state.exists():
        raise ValueError(f"no cluster in {args.dir!r} (no cluster.json): start one with `consensuslab cluster start` "
                         "or pass --peers host:port,...")
    return parse_peers(",".join(json.loads(state.read_text())["addresses"]))


def run(args: argparse.Namespace) -> int:
    """Run a live subcommand; exit code 0 on success, 1 on failure, 2 on bad arguments."""
    try:
        if args.command == "serve":
            return serve_module.run(args)
        if args.command == "cluster":
            from consensuslab.live.cluster import LocalCluster, stop_cluster

            if args.action == "start":
                options = serve_module._options(args.options)
                c = LocalCluster(args.n, args.protocol, args.dir, options=options, fsync=not args.no_fsync)
                c.start()
                for i, (host, port) in enumerate(c.addresses):
                    print(f"node {i}: {host}:{port}")
                print(f"cluster of {c.n} {c.protocol} nodes running; stop it with: consensuslab cluster stop --dir {args.dir}")
                c.procs = [None] * c.n  # leave them running: this process exits now
                return 0
            killed = stop_cluster(args.dir)
            print(f"stopped {len(killed)} node processes")
            return 0
        from consensuslab.live.client import LiveClient

        if args.op in ("put", "append") and args.value is None:
            raise ValueError(f"`kv {args.op}` needs a VALUE")
        with LiveClient(_addresses(args), op_timeout=args.timeout) as client:
            result = client.call(args.op, args.key, args.value)
        if not result.ok:
            print(f"failed: {result.error} after {result.attempts} attempts", file=sys.stderr)
            return 1
        print(result.value if args.op == "get" else "ok")
        return 0
    except (ValueError, FileNotFoundError, TimeoutError, RuntimeError) as exc:
        print(f"consensuslab {args.command}: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, ValueError) else 1
