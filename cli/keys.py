"""`millgate keys ...`: production key files, and their rotation."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:  # the rest is imported when a command runs: --help stays quick
    from core.crypto import FieldCipher

app = typer.Typer(no_args_is_help=True, help="Production key files, and their rotation.")


def _files() -> dict[str, tuple[str, Callable[[Path], object]]]:
    from core.crypto import ApiKeyHasher, FieldCipher, SigningKeys

    return {
        "MILLGATE_FIELD_KEYS_FILE": ("field-keys.json", FieldCipher.new_key_file),
        "MILLGATE_SIGNING_KEYS_FILE": ("signing-keys.json", SigningKeys.new_key_file),
        "MILLGATE_API_KEY_PEPPER_FILE": ("api-key-pepper", ApiKeyHasher.new_key_file),
    }


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(1)


def _existing(path: Path) -> Path:
    if not path.is_file():
        raise _fail(f"key file {path} does not exist (see `millgate keys generate`)")
    return path


@app.command()
def generate(
    out: Path = typer.Option(..., "--out", help="Folder to write the three key files into."),
) -> None:
    """Write new production key files (mode 0600); an existing file is never overwritten."""
    files = _files()
    taken = [out / name for name, _ in files.values() if (out / name).exists()]
    if taken:
        raise _fail(f"{taken[0]} exists; key files are never overwritten (nothing written)")
    out.mkdir(mode=0o700, parents=True, exist_ok=True)
    for variable, (name, make) in files.items():
        make(out / name)
        typer.echo(f"{variable}={(out / name).resolve()}")


@app.command("rotate-signing")
def rotate_signing() -> None:
    """Add a signing key: it signs after the next restart; older keys keep verifying."""
    from core.crypto import SigningKeys
    from core.settings import Settings

    settings = Settings()
    path = _existing(settings.signing_keys_file or settings.keys_dir / "signing-keys.json")
    kid = SigningKeys.add_key_to_file(path)
    typer.echo(f"added signing key {kid} to {path}; restart the API processes to sign with it")


@app.command("retire-signing")
def retire_signing(
    kid: str = typer.Argument(..., help="The kid of a signing key to remove."),
) -> None:
    """Remove an older signing key: tokens and exports it signed stop verifying."""
    from core.crypto import SigningKeys
    from core.errors import CryptoError
    from core.settings import Settings

    settings = Settings()
    path = _existing(settings.signing_keys_file or settings.keys_dir / "signing-keys.json")
    try:
        SigningKeys.remove_key_from_file(path, kid)
    except CryptoError as error:
        raise _fail(str(error)) from error
    typer.echo(f"removed signing key {kid} from {path}")


async def _rewrap(url: str, cipher: FieldCipher, batch_size: int) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from core import rekey
    from core.db import make_engine

    engine = make_engine(url)
    done = 0
    try:
        total = await rekey.count_stale(engine, cipher.current)
        progress = Progress(
            TextColumn("re-encrypting"),
            BarColumn(),
            MofNCompleteColumn(),
            console=Console(stderr=True),
        )
        with progress:
            task = progress.add_task("values", total=total)
            async for count in rekey.rewrap(engine, cipher, batch_size=batch_size):
                done += count
                progress.advance(task, count)
                # One plain line per committed batch, for logs and for whoever waits on it.
                typer.echo(f"re-encrypted {done} of {total} values")
    finally:
        await engine.dispose()
    return done


@app.command("rotate-field-key")
def rotate_field_key(
    batch_size: int = typer.Option(500, min=1, max=10_000, help="Values per transaction."),
) -> None:
    """Make a new field key current and re-encrypt every encrypted value under it.

    Resumable: run it again after an interruption and it finishes the same rotation.
    """
    import asyncio

    from cli.db import database_url
    from core.crypto import FieldCipher
    from core.settings import Settings

    settings = Settings()
    path = _existing(settings.field_keys_file or settings.keys_dir / "field-keys.json")
    kid, added = FieldCipher.rotate_key_file(path)
    typer.echo(f"{'new' if added else 'resuming with'} field key {kid} in {path}")
    cipher = FieldCipher.from_file(path)
    done = asyncio.run(_rewrap(database_url(settings), cipher, batch_size))
    FieldCipher.finish_rotation(path)
    typer.echo(
        f"done: {done} values re-encrypted under {kid}; restart the API processes. "
        "Older keys stay in the ring for values written meanwhile by processes not restarted."
    )
