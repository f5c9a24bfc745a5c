"""``lcdev token``: a development JWT signed with the workspace's key."""

from __future__ import annotations

import time
from pathlib import Path

import jwt

from tests.cli.conftest import init, lcdev

SHOP_KEY = "dev-only-key-not-a-secret-0123456789abcdef"


def test_token_is_signed_with_the_key_the_services_use(tmp_path: Path) -> None:
    root = init(tmp_path / "shop")
    result = lcdev("token", "--sub", "alice", "--ttl", "60", "--claim", "role=admin",
                   "-w", str(root))
    assert result.exit_code == 0, result.output
    claims = jwt.decode(result.stdout.strip(), SHOP_KEY, algorithms=["HS256"])
    assert claims["sub"] == "alice"
    assert claims["role"] == "admin"
    assert 50 <= claims["exp"] - time.time() <= 60


def test_token_without_jwt_services_says_what_to_pass(tmp_path: Path) -> None:
    root = init(tmp_path / "empty", "blank")
    result = lcdev("token", "-w", str(root))
    assert result.exit_code == 2
    assert "--secret" in result.stderr


def test_malformed_claim_is_refused(tmp_path: Path) -> None:
    root = init(tmp_path / "shop")
    result = lcdev("token", "--claim", "role", "-w", str(root))
    assert result.exit_code == 2
    assert "key=value" in result.stderr
