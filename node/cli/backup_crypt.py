"""Encrypted backups: a backup leaves the server by design, so it is encrypted to one or more
age recipients (https://age-encryption.org, through pyrage) and only someone holding one of
their identities, kept elsewhere, can read it. A plain backup needs an explicit flag."""

from __future__ import annotations

from pathlib import Path

import pyrage

from node.errors import BadInput, ConfigError, Conflict
from node.keyfile import create_file

AGE_HEADER = b"age-encryption.org/v1\n"


def recipients(texts: list[str]) -> list[pyrage.x25519.Recipient]:
    """age X25519 recipients ("age1..."), or BadInput naming the one that is not."""
    out = []
    for text in texts:
        try:
            out.append(pyrage.x25519.Recipient.from_str(text.strip()))
        except pyrage.RecipientError:
            raise BadInput(f"{text.strip()[:80]!r} is not an age recipient (age1...: the public half of an "
                           "identity; make one with `branchnet backup-key`)", field="to") from None  # fmt: skip
    return out


def new_identity(path: Path) -> str:
    """Write a new age identity to ``path`` (readable by its owner only, never overwritten);
    return its recipient, to give to `branchnet backup --to`."""
    identity = pyrage.x25519.Identity.generate()
    recipient = str(identity.to_public())
    text = f"# branchnet backup identity: keep it off the server; it reads backups made with --to {recipient}\n"
    try:
        create_file(path, f"{text}{identity}\n".encode())
    except FileExistsError:
        raise Conflict(f"{path} already exists; refusing to overwrite an identity") from None
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror}") from None
    return recipient


def read_identity(path: Path) -> pyrage.x25519.Identity:
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise ConfigError(f"cannot read the identity {path}: {exc.strerror}") from None
    keys = [line.strip() for line in lines if line.strip().startswith("AGE-SECRET-KEY-")]
    if not keys:
        raise ConfigError(f"{path} holds no age identity (a line AGE-SECRET-KEY-1...)")
    try:
        return pyrage.x25519.Identity.from_str(keys[0])
    except pyrage.IdentityError:
        raise ConfigError(f"{path}: its AGE-SECRET-KEY line is not a valid identity") from None


def is_encrypted(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(len(AGE_HEADER)) == AGE_HEADER
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None


def encrypt(source: Path, target: Path, to: list[pyrage.x25519.Recipient]) -> None:
    pyrage.encrypt_file(str(source), str(target), to)


def decrypt(source: Path, target: Path, identity: pyrage.x25519.Identity) -> None:
    try:
        pyrage.decrypt_file(str(source), str(target), [identity])
    except pyrage.DecryptError as exc:
        target.unlink(missing_ok=True)
        raise Conflict(f"{source} cannot be decrypted with this identity ({exc}): nothing was restored") from None
