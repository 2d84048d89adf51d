"""Consent grants and the access log: the types, granting, revoking and changing a grant."""
