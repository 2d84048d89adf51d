"""Who is asking and what they may see: the principal, the Casbin enforcer over
``policy.conf``, and the one query builder every read of domain data starts from."""
