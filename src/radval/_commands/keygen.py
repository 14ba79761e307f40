"""`radval keygen`: create the Ed25519 key pair a developing team signs its bundles with."""

from __future__ import annotations

import argparse
from typing import Any

from radval.exceptions import EXIT_OK

HELP = "create an Ed25519 key pair for signing bundles (private key mode 0600, public key)"
EXAMPLE = "radval keygen --out ~/.radval-keys"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add this subcommand's arguments."""
    parser.add_argument("--out", required=True,
                        help="folder for NAME.key (private: keep it, never share it) and "
                             "NAME.pub (public: publish it with the bundle)")
    parser.add_argument("--name", default="radval-signing",
                        help="file name stem of the two key files (default radval-signing)")


def run(args: argparse.Namespace) -> tuple[int, dict[str, Any]]:
    """Run the subcommand."""
    from radval.models._signing import generate_keypair

    pair = generate_keypair(args.out, name=args.name)
    summary = {"private_key": str(pair.private_key), "public_key": str(pair.public_key),
               "public_key_base64": pair.public_key_base64,
               "fingerprint_sha256": pair.fingerprint}
    if not args.json:
        print(f"private key (keep secret, mode 0600): {pair.private_key}")
        print(f"public key (publish):                {pair.public_key}")
        print(f"public key, raw base64:              {pair.public_key_base64}")
        print(f"fingerprint (SHA-256):               {pair.fingerprint}")
    return EXIT_OK, summary
