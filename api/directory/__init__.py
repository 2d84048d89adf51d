"""The directory of brands and hosts a factory may grant to."""
