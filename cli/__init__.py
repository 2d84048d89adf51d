"""The `millgate` command: one module a command group, assembled in `cli.main`."""

import os

# Plain help and errors: rich's formatting costs `millgate --help` about half a second.
os.environ.setdefault("TYPER_USE_RICH", "0")
