"""Entry point of the `millgate` console command."""

from __future__ import annotations

import typer

from cli import access_log, audit, catalogue, db, demo, errors, exports, keys, serve, tokens

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="Millgate: consent-bound sharing of compliance data. "
    "`millgate --debug COMMAND` shows the traceback of a failure.",
)
app.add_typer(access_log.app, name="access-log")
app.add_typer(audit.app, name="audit")
app.add_typer(catalogue.app, name="catalogue")
app.add_typer(db.app, name="db")
app.add_typer(demo.app, name="demo")
app.add_typer(exports.app, name="exports")
app.add_typer(keys.app, name="keys")
app.add_typer(tokens.app, name="token")
serve.register(app)
tokens.register(app)


def main() -> None:
    """The console script: failures told in one line each (see cli.errors)."""
    errors.run(app)


if __name__ == "__main__":
    main()
