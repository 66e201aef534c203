"""branchnet's protocol: signed objects, canonical bytes, per-author logs, fork proofs.

Pure: no network, no files, no asyncio. An auditor needs only this package and a
bundle of envelopes. The format is specified in docs/protocol.md.
"""

from .bundle import MAGIC as BUNDLE_MAGIC
from .bundle import read_bundle, write_bundle
from .chain import Head, LogReport, check_logs, check_next, is_fork, make_fork_proof, verify_fork_proof
from .encoding import encode
from .envelope import ENVELOPE_TAG, VERSION, envelope_id, open_envelope, rotation_message, seal, signing_input
from .errors import ChainFailure, Code, DecodeFailure, ProtocolError, SignatureFailure, TrustFailure
from .keys import SigningKey, node_id_text, parse_node_id
from .models import (
    KINDS,
    BallotRules,
    Body,
    Charter,
    CharterRule,
    Decision,
    Envelope,
    ForkProof,
    Genesis,
    KeyRotation,
    NodeProfile,
    Payload,
    Quota,
    Ratio,
    Revocation,
    Roll,
    Rules,
    kind_of,
)
from .trust import Trust

__all__ = [
    "BUNDLE_MAGIC",
    "ENVELOPE_TAG",
    "KINDS",
    "VERSION",
    "BallotRules",
    "Body",
    "ChainFailure",
    "Charter",
    "CharterRule",
    "Code",
    "Decision",
    "DecodeFailure",
    "Envelope",
    "ForkProof",
    "Genesis",
    "Head",
    "KeyRotation",
    "LogReport",
    "NodeProfile",
    "Payload",
    "ProtocolError",
    "Quota",
    "Ratio",
    "Revocation",
    "Roll",
    "Rules",
    "SignatureFailure",
    "SigningKey",
    "Trust",
    "TrustFailure",
    "check_logs",
    "check_next",
    "encode",
    "envelope_id",
    "is_fork",
    "kind_of",
    "make_fork_proof",
    "node_id_text",
    "open_envelope",
    "parse_node_id",
    "read_bundle",
    "rotation_message",
    "seal",
    "signing_input",
    "verify_fork_proof",
    "write_bundle",
]
