"""What every mutation shares (``base``): the transaction, the decision, input checks.

The mutations themselves live with their domain (``api.<domain>.mutations``)."""
