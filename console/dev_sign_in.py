"""The development sign-in picker: one click signs in as a demo factory's user.

Off in production (the routes answer 404 and the page shows no picker): there, a factory's
users sign in at their OpenID Provider, and the operator never mints a token for them.
"""

from __future__ import annotations

import datetime as dt

from core.runtime import Runtime
from demo.factories import factory_specs


class DevSignIn:
    def __init__(self, runtime: Runtime) -> None:
        assert not runtime.settings.production
        self.runtime = runtime
        self.ttl = min(runtime.settings.token_ttl_seconds, 8 * 3600)

    def users(self) -> list[tuple[str, str]]:
        """(email, "Factory — role") of the demo factories' managers and representatives."""
        out = []
        for spec in factory_specs(dt.datetime.now(dt.UTC).date()):
            out.append((f"manager@{spec.slug}.demo", spec.name))
            out.append((f"worker-rep@{spec.slug}.demo", spec.name))
        return out

    async def token_for(self, email: str) -> str | None:
        """A token for the demo user ``email``; None for anyone else."""
        from demo.tokens import tokens_for_emails  # development only, as `serve` prints

        if email not in {e for e, _ in self.users()}:
            return None
        try:
            tokens = await tokens_for_emails(self.runtime, {email: email})
        except KeyError:  # the demo world is not seeded
            return None
        return tokens[email]
