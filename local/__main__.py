"""`python -m local`: run the local stack until Ctrl-C (SIGINT) or SIGTERM."""
from __future__ import annotations

import argparse
import os
import signal
import sys
import threading

from . import infra
from .stack import LocalStack, LocalStackError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT") or 8000))
    parser.add_argument("--stage", default="local")
    args = parser.parse_args(argv)

    stopping = threading.Event()

    def request_stop(signum: int, frame: object) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)

    stack = LocalStack(host=args.host, port=args.port, stage=args.stage)
    try:
        stack.start()
    except (LocalStackError, infra.InfraError) as exc:
        print(f"local stack: {exc}", file=sys.stderr)
        return 1
    print("Ctrl-C to stop.", flush=True)
    try:
        while not stopping.wait(0.5):
            pass
    finally:
        print("Stopping...", flush=True)
        stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
