"""Production refuses to start on unsafe settings, with one line naming the variable."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from core.settings import ConfigError, load_settings

GOOD_PRODUCTION = {
    "MUNIBILL_ENV": "production",
    "SECRET_KEY": "x" * 40,
    "ACCESS_CODE_KEY": "y" * 40,
    "DATABASE_URL": "postgresql://munibill@db/munibill",
}


def test_production_refuses_a_missing_secret_key(tmp_path):
    env = {k: v for k, v in GOOD_PRODUCTION.items() if k != "SECRET_KEY"}
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        load_settings(env, tmp_path)


@pytest.mark.parametrize("secret", ["dev", "change-me", "short-but-not-default"])
def test_production_refuses_a_default_or_short_secret_key(tmp_path, secret):
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        load_settings({**GOOD_PRODUCTION, "SECRET_KEY": secret}, tmp_path)


def test_production_refuses_sqlite(tmp_path):
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        load_settings({**GOOD_PRODUCTION, "DATABASE_URL": "sqlite:///x.db"}, tmp_path)


def test_production_refuses_a_missing_access_code_key(tmp_path):
    env = {k: v for k, v in GOOD_PRODUCTION.items() if k != "ACCESS_CODE_KEY"}
    with pytest.raises(ConfigError, match="ACCESS_CODE_KEY"):
        load_settings(env, tmp_path)


def test_production_with_good_settings_uses_secure_cookies_and_psycopg(tmp_path):
    config = load_settings(GOOD_PRODUCTION, tmp_path)
    assert config["SESSION_COOKIE_SECURE"] is True
    assert config["SESSION_COOKIE_HTTPONLY"] is True
    assert config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql+psycopg://")


def test_development_keeps_one_random_key_under_instance(tmp_path):
    first = load_settings({}, tmp_path)["SECRET_KEY"]
    second = load_settings({}, tmp_path)["SECRET_KEY"]
    assert first == second and len(first) >= 32
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MUNICIPALITY_TIMEZONE", "Mars/Olympus"),
        ("ROUNDING_RULE", "bankers"),
        ("SMTP_PORT", "twenty-five"),
        ("STAFF_IDLE_MINUTES", "0"),
        ("STAFF_SESSION_HOURS", "-1"),
        ("PRINT_WORKERS", "0"),
    ],
)
def test_a_wrong_value_is_named(tmp_path, name, value):
    with pytest.raises(ConfigError, match=name):
        load_settings({name: value}, tmp_path)


def test_print_batches_render_on_every_core_unless_told(tmp_path):
    assert load_settings({}, tmp_path)["PRINT_WORKERS"] == len(os.sched_getaffinity(0))
    assert load_settings({"PRINT_WORKERS": "1"}, tmp_path)["PRINT_WORKERS"] == 1


def test_staff_sessions_end_after_30_idle_minutes_and_8_hours_unless_set(tmp_path):
    defaults = load_settings({}, tmp_path)
    assert (defaults["STAFF_IDLE_MINUTES"], defaults["STAFF_SESSION_HOURS"]) == (30, 8)
    chosen = load_settings({"STAFF_IDLE_MINUTES": "10", "STAFF_SESSION_HOURS": "4"}, tmp_path)
    assert (chosen["STAFF_IDLE_MINUTES"], chosen["STAFF_SESSION_HOURS"]) == (10, 4)


def test_the_command_refuses_to_start_with_one_clear_line(tmp_path):
    env = {
        **os.environ,
        **GOOD_PRODUCTION,
        "MUNIBILL_DOTENV": os.devnull,
        "MUNIBILL_INSTANCE_PATH": str(tmp_path),
    }
    env.pop("SECRET_KEY")
    munibill = Path(sys.executable).parent / "munibill"
    result = subprocess.run(
        [str(munibill), "routes"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "SECRET_KEY" in lines[0]


def test_only_postgresql_takes_back_its_last_used_connection_first(tmp_path):
    # NOTE: LIFO keeps psycopg's prepared statements warm (core/read_only_end.py); the pool of
    # an in-memory SQLite database has no such setting and would refuse it.
    postgres = load_settings({"DATABASE_URL": "postgresql://db/munibill"}, tmp_path)
    assert postgres["SQLALCHEMY_ENGINE_OPTIONS"]["pool_use_lifo"] is True
    for url in ("sqlite://", f"sqlite:///{tmp_path / 'town.db'}"):
        options = load_settings({"DATABASE_URL": url}, tmp_path)["SQLALCHEMY_ENGINE_OPTIONS"]
        assert "pool_use_lifo" not in options
        sa.create_engine(url, **options).dispose()
