"""The `millgate` command: one module a command group, assembled in `cli.main`."""
