"""Views of no single factory: country statistics under disclosure control, public findings."""
