"""`millgate audit ...` commands."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:  # the rest is imported when a command runs: --help stays quick
    import audit
    from audit.checkpoints import CheckpointProblem

app = typer.Typer(no_args_is_help=True, help="The audit trail (a hash chain of every mutation).")


@dataclass(frozen=True)
class Verdict:
    entries: int
    head: tuple[int, str] | None  # (seq, hash) of the last entry
    breaks: list[audit.Break]
    anchor_problem: str | None = None
    checkpoints_held: int = 0
    checkpoint_problems: tuple[CheckpointProblem, ...] = ()


def _anchor(value: str | None) -> tuple[int, str] | None:
    if value is None:
        return None
    seq, _, digest = value.partition(":")
    if not seq.isdigit() or len(digest) != 64:
        raise typer.BadParameter("expected SEQ:SHA256, as printed by a previous verify")
    return int(seq), digest.lower()


def _checkpoint_tokens(directory: Path | None) -> list[tuple[str, str]]:
    from audit.checkpoints import CheckpointStore

    if directory is None:
        return []
    if not directory.is_dir():
        raise typer.BadParameter(f"{directory} is not a directory", param_hint="--checkpoints")
    try:
        return [(path.name, path.read_text()) for _, path in CheckpointStore(directory).paths()]
    except (OSError, UnicodeDecodeError) as error:
        raise typer.BadParameter(f"cannot read: {error}", param_hint="--checkpoints") from None


async def _verify(
    anchor: tuple[int, str] | None, checkpoints: Path | None, jwks: dict[str, Any] | None
) -> Verdict:
    from sqlalchemy import select  # noqa: TID251 - the one read is marked as a system read

    import audit
    import models as m
    from audit.checkpoints import check_chain
    from authz.guard import system_read
    from core.runtime import Runtime
    from core.settings import Settings

    tokens = _checkpoint_tokens(checkpoints)
    runtime = Runtime.create(Settings())
    try:
        async with runtime.sessionmaker() as session:
            entries = list(
                (
                    await session.scalars(
                        system_read(select(m.AuditEntry).order_by(m.AuditEntry.id), "audit: verify")
                    )
                ).all()
            )
    finally:
        await runtime.close()
    head = (entries[-1].seq, entries[-1].entry_hash) if entries else None
    problem = None
    if anchor is not None:
        seq, digest = anchor
        found = next((e for e in entries if e.seq == seq), None)
        if found is None:
            problem = f"anchored entry {seq} is missing: the chain was cut or rewritten"
        elif found.entry_hash != digest:
            problem = f"anchored entry {seq} has another hash: the chain was rewritten"
    held, problems = check_chain(entries, tokens, jwks or runtime.keys.signing.public_jwks())
    return Verdict(len(entries), head, audit.verify(entries), problem, held, tuple(problems))


def _jwks(path: Path | None) -> dict[str, Any] | None:
    if path is None:
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise typer.BadParameter(f"cannot read a JWKS: {error}", param_hint="--jwks") from None
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
        raise typer.BadParameter("not a JWKS (no 'keys' list)", param_hint="--jwks")
    return data


@app.command("verify")
def verify(
    anchor: str | None = typer.Option(
        None,
        "--anchor",
        help="SEQ:SHA256 of an entry noted earlier (kept outside the database): also proves "
        "that nothing up to it was cut off or rewritten as a whole.",
    ),
    checkpoints: Path | None = typer.Option(
        None,
        "--checkpoints",
        help="Folder of signed checkpoints (MILLGATE_CHECKPOINT_DIR when set): the chain "
        "must hold the head that each of them signed.",
    ),
    jwks: Path | None = typer.Option(
        None,
        "--jwks",
        help="Verify the checkpoints with this public key set (as served at "
        "/.well-known/jwks.json) instead of this installation's keys.",
    ),
) -> None:
    """Check the hash chain: exit 0 when intact, 1 at the first break, 2 if unreadable."""
    import asyncio

    from sqlalchemy.exc import DBAPIError

    from authz.guard import install_guard
    from core.settings import Settings

    install_guard()
    folder = checkpoints or Settings().checkpoint_dir
    try:
        verdict = asyncio.run(_verify(_anchor(anchor), folder, _jwks(jwks)))
    except DBAPIError as error:
        typer.echo(f"cannot read the audit trail: {error.orig}", err=True)
        raise typer.Exit(2) from None
    if verdict.breaks:
        first = verdict.breaks[0]
        more = len(verdict.breaks) - 1
        typer.echo(
            f"audit chain broken at entry {first.seq}: {first.reason}"
            + (f" ({more} more problems after it)" if more else ""),
            err=True,
        )
        raise typer.Exit(1)
    if verdict.anchor_problem:
        typer.echo(f"audit chain broken: {verdict.anchor_problem}", err=True)
        raise typer.Exit(1)
    for problem in verdict.checkpoint_problems:
        typer.echo(f"audit chain broken: checkpoint {problem.source}: {problem.reason}", err=True)
    if verdict.checkpoint_problems:
        raise typer.Exit(1)
    if folder is not None:
        typer.echo(f"checkpoints: {verdict.checkpoints_held} held")
    typer.echo(f"audit chain intact: {verdict.entries} entries")
    if verdict.head is not None:
        seq, digest = verdict.head
        typer.echo(f"head: {seq}:{digest}")


async def _checkpoint() -> str:
    from audit.checkpoints import CheckpointStore, write_checkpoint
    from core.runtime import Runtime
    from core.settings import Settings

    settings = Settings()
    runtime = Runtime.create(settings)
    store = CheckpointStore(settings.effective_checkpoint_dir)
    try:
        async with runtime.sessionmaker() as session:
            made = await write_checkpoint(
                session, runtime.keys.signing, store, issuer=settings.token_issuer
            )
    finally:
        await runtime.close()
    if made is None:
        return (
            f"no new checkpoint (empty chain, or its head is signed already) in {store.directory}"
        )
    return f"checkpoint {made.seq}:{made.head_hash} signed in {store.directory}"


@app.command("checkpoint")
def checkpoint() -> None:
    """Sign the chain's head now and keep it in MILLGATE_CHECKPOINT_DIR (never rewritten)."""
    import asyncio

    from sqlalchemy.exc import DBAPIError

    from authz.guard import install_guard

    install_guard()
    try:
        typer.echo(asyncio.run(_checkpoint()))
    except DBAPIError as error:
        typer.echo(f"cannot read the audit trail: {error.orig}", err=True)
        raise typer.Exit(2) from None
