"""``lcdev token``: a development JWT for calling the workspace's APIs through the gateway."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from lcdev.cli import output
from lcdev.cli.common import EXIT_USAGE, WorkspaceOption, abort, resolve_root

if TYPE_CHECKING:
    pass

__all__ = ["token"]


def token(
    subject: Annotated[str, typer.Option("--sub", help="The token's subject (sub claim).")
                       ] = "dev-user",
    ttl: Annotated[int, typer.Option(min=1, help="Lifetime in seconds.")] = 3600,
    secret: Annotated[str | None, typer.Option(
        help="Workspace secret holding the HS256 key (default: the one services use).")
    ] = None,
    claim: Annotated[list[str] | None, typer.Option(
        help="Extra claim as key=value (repeatable).")] = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Print a JWT signed with the workspace's development key, for curl and tests:

        curl -H "Authorization: Bearer $(lcdev token)" http://127.0.0.1:8800/orders/orders
    """
    from lcdev.definitions import load_workspace
    from lcdev.gateway.dev_tokens import jwt_secret_name, mint_token

    root = resolve_root(workspace)
    loaded = load_workspace(root)
    if loaded.workspace is None:
        abort("lcdev.yaml is not valid; `lcdev validate` says why", code=EXIT_USAGE)
    name = secret or jwt_secret_name(loaded)
    if name is None:
        abort("no service uses JWT auth with a workspace secret",
              "pass --secret NAME (a secret from lcdev.yaml)", EXIT_USAGE)
    ref = loaded.workspace.secrets.get(name)
    key = ref.resolve(root) if ref is not None else None
    if not key:
        abort(f"secret '{name}' is not defined or has no value",
              "define it under `secrets:` in lcdev.yaml (env, file or default)", EXIT_USAGE)
    claims: dict[str, object] = {}
    for item in claim or []:
        key_name, sep, value = item.partition("=")
        if not sep:
            abort(f"--claim {item!r} is not key=value", code=EXIT_USAGE)
        claims[key_name] = value
    output.console.out(mint_token(key, subject, ttl, claims), highlight=False)
