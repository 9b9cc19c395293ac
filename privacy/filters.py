"""The ``phone`` template filter: a client's number as the reader may see it (masked for masked roles).

The policy comes from the Jinja environment's ``privacy_policy`` global (set by the privacy middleware for
the app's hub) and the reader from the page's ``user``; without either the number is shown as it is.
"""

from __future__ import annotations

import jinja2

from privacy.masking import MaskPolicy


@jinja2.pass_context
def phone(ctx: jinja2.runtime.Context, value: object) -> str:
    text = "" if value is None else str(value)
    policy = ctx.environment.globals.get("privacy_policy")
    user = ctx.get("user")
    if not isinstance(policy, MaskPolicy) or user is None:
        return text
    return policy.shown(text, getattr(user, "role", None), getattr(user, "department_id", None))


@jinja2.pass_context
def phones_masked(ctx: jinja2.runtime.Context, _value: object = None) -> bool:
    """True when the reader sees numbers masked (a template then dials by contact id, not by number)."""
    policy = ctx.environment.globals.get("privacy_policy")
    user = ctx.get("user")
    return isinstance(policy, MaskPolicy) and user is not None and policy.masks(
        getattr(user, "role", None), getattr(user, "department_id", None))
