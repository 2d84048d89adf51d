"""`millgate audit ...` commands."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:  # the rest is imported when a command runs: --help stays quick
    from core import audit

app = typer.Typer(no_args_is_help=True, help="The audit trail (a hash chain of every mutation).")


@dataclass(frozen=True)
class Verdict:
    entries: int
    head: tuple[int, str] | None  # (seq, hash) of the last entry
    breaks: list[audit.Break]
    anchor_problem: str | None = None


def _anchor(value: str | None) -> tuple[int, str] | None:
    if value is None:
        return None
    seq, _, digest = value.partition(":")
    if not seq.isdigit() or len(digest) != 64:
        raise typer.BadParameter("expected SEQ:SHA256, as printed by a previous verify")
    return int(seq), digest.lower()


async def _verify(anchor: tuple[int, str] | None) -> Verdict:
    from sqlalchemy import select  # noqa: TID251 - the one read is marked as a system read

    import models as m
    from authz.guard import system_read
    from core import audit
    from core.runtime import Runtime
    from core.settings import Settings

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
    return Verdict(len(entries), head, audit.verify(entries), problem)


@app.command("verify")
def verify(
    anchor: str | None = typer.Option(
        None,
        "--anchor",
        help="SEQ:SHA256 of an entry noted earlier (kept outside the database): also proves "
        "that nothing up to it was cut off or rewritten as a whole.",
    ),
) -> None:
    """Check the hash chain: exit 0 when intact, 1 at the first break, 2 if unreadable."""
    import asyncio

    from sqlalchemy.exc import DBAPIError

    from authz.guard import install_guard

    install_guard()
    try:
        verdict = asyncio.run(_verify(_anchor(anchor)))
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
    typer.echo(f"audit chain intact: {verdict.entries} entries")
    if verdict.head is not None:
        seq, digest = verdict.head
        typer.echo(f"head: {seq}:{digest}")
