"""Alembic migrations of Millgate's schema (see README.md; run them with `millgate db upgrade`)."""
