"""Signed checkpoints of the audit chain, kept outside the database.

The chain alone proves nothing to someone who can write the database: they can cut its
tail, or rewrite entries and hash the chain again. A checkpoint is the platform's signature
(:func:`core.crypto.sign_checkpoint`) over the head at one moment, ``{seq, head, iat}``,
written as one file that is never rewritten (``<seq>.jws``, created exclusively) in a
directory of its own (``MILLGATE_CHECKPOINT_DIR``). Whoever holds a checkpoint, the factory
included (``Factory.auditCheckpoint``), can later show that the chain still holds entry
``seq`` with hash ``head``; :func:`check_chain` does that for every checkpoint given.

The export worker writes one each pass once the head has moved and the newest is
``checkpoint_interval`` old; ``millgate audit checkpoint`` writes one on demand.

Example:
    store = CheckpointStore(Path("/var/lib/millgate/checkpoints"))
    await write_checkpoint(session, keys.signing, store, issuer="millgate")
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select  # noqa: TID251 - the head is read as a marked system read
from sqlalchemy.ext.asyncio import AsyncSession

import models as m
from authz.guard import system_read
from core.crypto import SigningKeys, sign_checkpoint, verify_checkpoint
from core.errors import CryptoError

_NAME = re.compile(r"^(\d{1,18})\.jws$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True, slots=True)
class Checkpoint:
    seq: int
    head_hash: str
    signed_at: dt.datetime
    jws: str


def read_checkpoint(token: str, public_jwks: Mapping[str, Any]) -> Checkpoint:
    """A checkpoint whose signature and claims hold; CryptoError otherwise."""
    claims = verify_checkpoint(token.strip(), public_jwks)
    seq, head, iat = claims.get("seq"), claims.get("head"), claims.get("iat")
    if not isinstance(seq, int) or seq < 1 or not isinstance(head, str) or not _HEX64.match(head):
        raise CryptoError("audit checkpoint claims are malformed")
    if not isinstance(iat, int):
        raise CryptoError("audit checkpoint claims are malformed")
    return Checkpoint(seq, head, dt.datetime.fromtimestamp(iat, dt.UTC), token.strip())


class CheckpointStore:
    """A directory of ``<seq>.jws`` files; each is written once and never changed."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def paths(self) -> list[tuple[int, Path]]:
        """(seq, path) of every checkpoint file, oldest first."""
        if not self.directory.is_dir():
            return []
        found = []
        for path in self.directory.iterdir():
            match = _NAME.match(path.name)
            if match:
                found.append((int(match.group(1)), path))
        return sorted(found)

    def add(self, seq: int, token: str) -> Path | None:
        """Writes the checkpoint of ``seq``; None if one exists (the head has not moved)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"{seq:012d}.jws"
        try:
            # Not secret (signed, meant to be handed out), but never overwritten.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            return None
        with os.fdopen(fd, "w") as handle:
            handle.write(token + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        return path

    def latest(self, public_jwks: Mapping[str, Any]) -> Checkpoint | None:
        """The newest checkpoint that verifies (a damaged file is passed over)."""
        for _, path in reversed(self.paths()):
            try:
                return read_checkpoint(path.read_text(), public_jwks)
            except (CryptoError, OSError, UnicodeDecodeError):
                continue
        return None


async def chain_head(session: AsyncSession) -> tuple[int, str] | None:
    stmt = select(m.AuditEntry.seq, m.AuditEntry.entry_hash).order_by(m.AuditEntry.seq.desc())
    row = (await session.execute(system_read(stmt.limit(1), "audit: checkpoint head"))).first()
    return None if row is None else (int(row[0]), str(row[1]))


async def write_checkpoint(
    session: AsyncSession,
    signer: SigningKeys,
    store: CheckpointStore,
    *,
    issuer: str,
    now: dt.datetime | None = None,
    min_age: dt.timedelta | None = None,
) -> Checkpoint | None:
    """Signs and stores the current head; None when the chain is empty, the head has a
    checkpoint already, or the newest checkpoint is younger than ``min_age``."""
    now = now or dt.datetime.now(dt.UTC)
    if min_age is not None:
        newest = store.latest(signer.public_jwks())
        if newest is not None and now - newest.signed_at < min_age:
            return None
    head = await chain_head(session)
    if head is None:
        return None
    seq, digest = head
    token = sign_checkpoint(
        signer, {"iss": issuer, "seq": seq, "head": digest, "iat": int(now.timestamp())}
    )
    if store.add(seq, token) is None:
        return None
    return read_checkpoint(token, signer.public_jwks())


@dataclass(frozen=True)
class CheckpointSchedule:
    """What the export worker needs to sign the head as it goes."""

    store: CheckpointStore
    issuer: str
    min_age: dt.timedelta

    async def run(self, session: AsyncSession, signer: SigningKeys) -> Checkpoint | None:
        return await write_checkpoint(
            session, signer, self.store, issuer=self.issuer, min_age=self.min_age
        )


@dataclass(frozen=True, slots=True)
class CheckpointProblem:
    source: str
    reason: str


def check_chain(
    entries: Iterable[m.AuditEntry],
    tokens: Iterable[tuple[str, str]],
    public_jwks: Mapping[str, Any],
) -> tuple[int, list[CheckpointProblem]]:
    """Checks the chain against every (source, token) given: how many checkpoints held, and
    the problems: a signature that does not verify, an entry cut off, a hash rewritten."""
    hashes = {entry.seq: entry.entry_hash for entry in entries}
    held = 0
    problems = []
    for source, token in tokens:
        try:
            checkpoint = read_checkpoint(token, public_jwks)
        except CryptoError as error:
            problems.append(CheckpointProblem(source, f"refused: {error}"))
            continue
        found = hashes.get(checkpoint.seq)
        if found is None:
            reason = f"entry {checkpoint.seq} is missing: the chain was cut or rewritten"
            problems.append(CheckpointProblem(source, reason))
        elif found != checkpoint.head_hash:
            reason = f"entry {checkpoint.seq} has another hash: the chain was rewritten"
            problems.append(CheckpointProblem(source, reason))
        else:
            held += 1
    return held, problems
