"""Organisations, their users and API keys, countries and the viewer."""
