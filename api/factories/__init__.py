"""Factories: the type, its pages, SLCP registration and enrolment."""
