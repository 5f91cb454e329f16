"""The `munibill` console script works without FLASK_APP, from any folder."""

import os
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

from core.extensions import db
from core.models import AuditEvent, StaffUser

MUNIBILL = str(Path(sys.executable).parent / "munibill")


def run(args, tmp_path, database_url, stdin=None):
    """Run `munibill ARGS` in a clean environment in tmp_path."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("FLASK_", "DATABASE_URL", "SECRET_KEY"))
    }
    env.update(
        {
            "MUNIBILL_DOTENV": os.devnull,
            "DATABASE_URL": database_url,
            "MUNIBILL_INSTANCE_PATH": str(tmp_path / "instance"),
            "SECRET_KEY": "k" * 40,
        }
    )
    return subprocess.run(
        [MUNIBILL, *args],
        cwd=tmp_path,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_help_lists_the_commands(tmp_path, database_url):
    result = run(["--help"], tmp_path, database_url)
    assert result.returncode == 0
    for command in ("db", "ledger", "users", "tokens", "demo"):
        assert f"  {command} " in result.stdout


def test_db_upgrade_builds_the_embedded_default_database_with_no_settings(tmp_path):
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("FLASK_", "DATABASE_URL", "SECRET_KEY", "MUNIBILL_", "TEST_DATABASE"))
    }
    env["MUNIBILL_DOTENV"] = os.devnull
    result = subprocess.run(
        [MUNIBILL, "db", "upgrade"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "instance" / "munibill.db").exists()
    assert (tmp_path / "instance" / "secret_key").exists()
    verify = subprocess.run(
        [MUNIBILL, "ledger", "verify"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert verify.returncode == 0 and verify.stdout.startswith("OK: 0 entries")


def test_users_create_reads_the_password_from_stdin_and_audits(app, tmp_path, database_url):
    result = run(
        [
            "users",
            "create",
            "--role",
            "clerk",
            "--email",
            "Pat.Clerk@Example.org",
            "--password-stdin",
        ],
        tmp_path,
        database_url,
        stdin="a long enough password\n",
    )
    assert result.returncode == 0, result.stderr
    with app.app_context():
        user = db.session.scalar(sa.select(StaffUser))
        assert user.email == "pat.clerk@example.org" and user.role.value == "clerk"
        assert user.password_hash != "a long enough password"
        assert db.session.scalar(sa.select(AuditEvent.action)) == "user.create"


def test_users_create_refuses_a_short_password_and_creates_nothing(app, tmp_path, database_url):
    result = run(
        ["users", "create", "--role", "auditor", "--email", "a@example.org", "--password-stdin"],
        tmp_path,
        database_url,
        stdin="short\n",
    )
    assert result.returncode != 0
    assert "at least 12 characters" in result.stderr
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(StaffUser)) == 0


def test_a_token_made_on_the_command_line_works_against_the_api(app, client, runner):
    result = runner.invoke(
        args=["tokens", "create", "--name", "lockbox import", "--role", "auditor"]
    )
    assert result.exit_code == 0
    secret = result.output.strip()
    response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert response.get_json() == {
        "kind": "token",
        "label": "token:lockbox import",
        "role": "auditor",
        "permissions": ["read"],
    }
