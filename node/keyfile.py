"""Private key files: PKCS#8 PEM, created with mode 0600, never overwritten."""

from __future__ import annotations

import os
from pathlib import Path

from node.errors import KeyFileError as KeyFileError  # re-exported
from protocol import ProtocolError, SigningKey


def write_new_key(path: Path, key: SigningKey) -> None:
    """Write ``key`` to a new file readable by its owner only; refuse to overwrite."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise KeyFileError(f"{path} already exists; refusing to overwrite a key") from None
    except OSError as exc:
        raise KeyFileError(f"cannot create {path}: {exc.strerror}") from None
    with os.fdopen(fd, "wb") as f:
        f.write(key.to_pem())
        f.flush()
        os.fsync(f.fileno())


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
