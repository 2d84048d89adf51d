"""The GraphQL API: Starlette app, authentication, and one module per domain."""
