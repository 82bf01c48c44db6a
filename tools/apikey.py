"""Create a merchant API key in a deployed stage's api-keys table. Prints the key once; only its
sha256 is stored.

    python -m tools.apikey --stage prod --name warehouse --scope inventory:write --scope orders:read
"""
from __future__ import annotations

import argparse
import os

from chalicelib.domain.ids import new_secret
from chalicelib.services.auth import ALL_SCOPES


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stage", required=True)
    parser.add_argument("--name", required=True, help="who the key is for, e.g. warehouse")
    parser.add_argument("--scope", action="append", choices=sorted(ALL_SCOPES | {"*"}), required=True)
    args = parser.parse_args(argv)
    os.environ["SHELF_STAGE"] = args.stage
    from chalicelib import wiring
    from chalicelib.services.auth import register_key

    key = new_secret("sk")
    register_key(key, args.name, frozenset(args.scope), wiring.context())
    print(key)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
