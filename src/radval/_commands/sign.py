"""`radval sign`: sign a bundle with the developing team's Ed25519 private key."""

from __future__ import annotations

import argparse
from typing import Any

from radval.exceptions import EXIT_OK

HELP = "sign a bundle (folder or .zip): add SHA256SUMS.sig, an Ed25519 signature"
EXAMPLE = "radval sign results/bundle.zip --key ~/.radval-keys/radval-signing.key"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add this subcommand's arguments."""
    parser.add_argument("bundle", help="bundle folder or .zip written by `radval run`")
    parser.add_argument("--key", required=True,
                        help="private key file from `radval keygen` (PEM PKCS#8, or the "
                             "raw 32-byte seed in base64)")


def run(args: argparse.Namespace) -> tuple[int, dict[str, Any]]:
    """Run the subcommand."""
    from radval.models._signing import SIG_FILE, sign_bundle

    path, fingerprint = sign_bundle(args.bundle, private_key=args.key)
    if not args.json:
        print(f"signed {path} ({SIG_FILE}); key fingerprint (SHA-256) {fingerprint}")
    return EXIT_OK, {"bundle": str(path), "signature_file": SIG_FILE,
                     "fingerprint_sha256": fingerprint}
