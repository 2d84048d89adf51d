"""Shared ground of Millgate: settings, cryptography, database engine, domain errors.

`core` imports `models` at most; `authz`, `exports`, `api` and `cli` import it.
"""
