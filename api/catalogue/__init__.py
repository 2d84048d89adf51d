"""The question catalogue a self-assessment is filled in from."""
