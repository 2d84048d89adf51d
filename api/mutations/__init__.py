"""Mutations, one module per audience: factories, programmes, platform admins."""
