#!/usr/bin/env python3
"""An independent DSSE verifier for sophia's attestations (not sophia's code).

Usage: verify.py ENVELOPE.json PUBLIC_KEY.pub

Follows the DSSE spec (https://github.com/secure-systems-lab/dsse, envelope.md and
protocol.md): decode the payload, build the pre-authentication encoding
PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body, and accept when one
signature verifies with the OpenSSH ed25519 public key (pyca/cryptography). Then checks the
payload is an in-toto Statement v1 with the deployment predicate. Exit 0 and print the
subjects when it verifies; exit 1 with the reason otherwise.
"""
import base64
import json
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_ssh_public_key


def pae(payload_type: bytes, body: bytes) -> bytes:
    return b"DSSEv1 %d %s %d %s" % (len(payload_type), payload_type, len(body), body)


def main() -> int:
    envelope_path, key_path = sys.argv[1], sys.argv[2]
    with open(key_path, "rb") as f:
        key = load_ssh_public_key(f.read())
    if not isinstance(key, Ed25519PublicKey):
        print("not an ed25519 key", file=sys.stderr)
        return 1
    try:
        with open(envelope_path, "rb") as f:
            envelope = json.loads(f.read())
        payload_type = envelope["payloadType"].encode()
        body = base64.b64decode(envelope["payload"], validate=True)
        message = pae(payload_type, body)
        verified = False
        for s in envelope["signatures"]:
            try:
                key.verify(base64.b64decode(s["sig"], validate=True), message)
                verified = True
            except (InvalidSignature, ValueError):
                pass
        if not verified:
            print("no signature verifies", file=sys.stderr)
            return 1
        if payload_type != b"application/vnd.in-toto+json":
            print("payloadType is not in-toto", file=sys.stderr)
            return 1
        statement = json.loads(body)
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as e:
        print(f"malformed envelope: {e}", file=sys.stderr)
        return 1
    if statement.get("_type") != "https://in-toto.io/Statement/v1":
        print("not an in-toto Statement v1", file=sys.stderr)
        return 1
    if statement.get("predicateType") != "https://in-toto.io/attestation/deployment/v1":
        print("not the deployment predicate", file=sys.stderr)
        return 1
    for s in statement["subject"]:
        print(f"{s['name']} sha256:{s['digest']['sha256']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
