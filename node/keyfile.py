"""Private key files: PKCS#8 PEM, created with mode 0600, never overwritten; and the one way
the node creates any such file (an age identity, a member's copy of their data, a report)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from node.errors import KeyFileError as KeyFileError  # re-exported
from protocol import ProtocolError, SigningKey


def create_file(path: Path, data: bytes | Iterable[bytes], mode: int = 0o600) -> None:
    """Write ``data`` (bytes, or pieces of it written as they come) to a new file with
    ``mode`` (readable by its owner only by default), on disk before it returns.
    FileExistsError rather than overwrite; OSError as the system says (each caller names what
    it was writing)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as f:
        for piece in [data] if isinstance(data, bytes) else data:
            f.write(piece)
        f.flush()
        os.fsync(f.fileno())


def write_new_key(path: Path, key: SigningKey) -> None:
    """Write ``key`` to a new file readable by its owner only; refuse to overwrite."""
    try:
        create_file(path, key.to_pem())
    except FileExistsError:
        raise KeyFileError(f"{path} already exists; refusing to overwrite a key") from None
    except OSError as exc:
        raise KeyFileError(f"cannot create {path}: {exc.strerror}") from None


def read_key(path: Path) -> SigningKey:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise KeyFileError(f"no key at {path} (run `branchnet init --dir {path.parent}` first)") from None
    except OSError as exc:
        raise KeyFileError(f"cannot read {path}: {exc.strerror}") from None
    try:
        return SigningKey.from_pem(data)
    except ProtocolError as exc:
        raise KeyFileError(f"{path}: {exc.message}") from None
