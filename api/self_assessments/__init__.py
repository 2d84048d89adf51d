"""Self-assessments: the type and their submission."""
