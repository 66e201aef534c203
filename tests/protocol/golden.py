"""The golden vectors in docs/vectors/golden.json: how they are made.

Regenerate (only when the format deliberately changes, which needs a new version):
    .venv/bin/python -m tests.protocol.golden > docs/vectors/golden.json
"""

from __future__ import annotations

import json
from typing import Any

from protocol import Envelope, KeyRotation, Revocation, SigningKey, make_fork_proof, rotation_message, signing_input
from protocol.encoding import encode
from protocol.views import payload_view
from tests.factories import T0, charter, genesis, key, next_envelope, profile

LABELS = ("national", "north", "south", "national-2")


def _entry(name: str, author: str, env: Envelope) -> dict[str, Any]:
    payload_bytes = encode(env.payload)
    return {
        "name": name,
        "author": author,
        "payload_json": payload_view(env.payload),
        "payload": payload_bytes.hex(),
        "signing_input": signing_input(payload_bytes).hex(),
        "signature": env.signature.hex(),
        "envelope": env.raw.hex(),
        "id": env.id.hex(),
    }


def build() -> dict[str, Any]:
    keys: dict[str, SigningKey] = {label: key(label) for label in LABELS}
    national, north, south, rotated = (keys[label] for label in LABELS)
    gen = genesis(national, created=T0)
    fed = gen.id
    chartered = next_envelope(national, gen, charter(north), fed)
    north_profile = next_envelope(north, None, profile("North Region"), fed)
    fork_a = next_envelope(north, north_profile, profile("North Region (A)"), fed)
    fork_b = next_envelope(north, north_profile, profile("North Region (B)"), fed)
    proof = next_envelope(south, None, make_fork_proof(fork_a, fork_b), fed)
    revoked = next_envelope(national, chartered, Revocation(key=north.public, after_seq=1, reason="forked"), fed)
    rotation = KeyRotation(
        new_key=rotated.public, proof=rotated.sign(rotation_message(fed, national.public, rotated.public))
    )
    rotated_env = next_envelope(national, revoked, rotation, fed)
    return {
        "description": (
            "branchnet protocol version 1 golden vectors (docs/protocol.md). Keys: the RFC 8032 seed of each "
            "is SHA-256 of 'branchnet test key: <label>'. Every envelope must open, its id is SHA-256 of the "
            "envelope bytes, its signature is by the author over signing_input."
        ),
        "keys": [
            {"label": label, "seed": k.seed.hex(), "public": k.public.hex(), "node_id": k.node_id}
            for label, k in keys.items()
        ],
        "envelopes": [
            _entry("genesis", "national", gen),
            _entry("charter", "national", chartered),
            _entry("node_profile", "north", north_profile),
            _entry("fork_side_a", "north", fork_a),
            _entry("fork_side_b", "north", fork_b),
            _entry("fork_proof", "south", proof),
            _entry("revocation", "national", revoked),
            _entry("key_rotation", "national", rotated_env),
        ],
    }


if __name__ == "__main__":
    print(json.dumps(build(), indent=2))
