"""``python -m consensuslab.live.serve``: run one live node (what ``consensuslab serve`` runs).

Parses the command line, builds the protocol's configuration for ``len(peers)`` nodes, opens the
node's storage in ``--data-dir`` and serves on ``peers[id]`` until SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
from pathlib import Path
from collections.abc import Callable
from typing import Any

from consensuslab.live.runtime import parse_peers, serve
from consensuslab.live.storage import Storage
from consensuslab.protocols.base import PROTOCOLS, ProtocolConfig, config_class

__all__ = ["add_arguments", "main", "run"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--protocol", default="raft", choices=sorted(PROTOCOLS), help="protocol to run")
    p.add_argument("--id", type=int, required=True, help="this node's index into --peers")
    p.add_argument("--peers", required=True, help="every node's host:port, comma-separated (node i is entry i)")
    p.add_argument("--data-dir", required=True, help="folder of this node's stable storage")
    p.add_argument("--options", default="{}", help='protocol options as JSON, e.g. \'{"heartbeat": 50}\'')
    p.add_argument("--no-fsync", action="store_true", help="do not fsync persisted state (faster, not durable)")
    p.add_argument("--seed", type=int, default=None, help="seed of the node's random stream")


def _options(text: str) -> dict[str, Any]:
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"`--options` must be a JSON object; got {text!r} ({exc}).") from None
    if not isinstance(raw, dict):
        raise ValueError(f"`--options` must be a JSON object; got {text!r}.")
    return {k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()}


def run(args: argparse.Namespace) -> int:
    peers = parse_peers(args.peers)
    if not 0 <= args.id < len(peers):
        raise ValueError(f"`--id` must be an int in [0, {len(peers) - 1}]; got {args.id}.")
    make_config: Callable[..., ProtocolConfig] = config_class(args.protocol)  # a dataclass: Config(n=, **options)
    config = make_config(n=len(peers), **_options(args.options))
    storage = Storage(Path(args.data_dir) / "stable.log", fsync=not args.no_fsync)
    logging.basicConfig(level=logging.WARNING, format=f"node {args.id} %(levelname)s %(message)s")

    async def main_loop() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        print(f"node {args.id} ({args.protocol}) serving on {peers[args.id][0]}:{peers[args.id][1]}", flush=True)
        await serve(config.make_node, args.id, peers, storage, seed=args.seed, stop=stop)

    asyncio.run(main_loop())
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="consensuslab serve", description="Run one live node.")
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run(args)
    except ValueError as exc:
        print(f"consensuslab serve: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
