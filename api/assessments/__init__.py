"""Assessments and findings: the types, their pages, recording and release."""
