"""A host's integration run by the host itself: its keys, its webhook, its deliveries."""
