"""The audit trail of a factory and the chain's signed checkpoints."""
