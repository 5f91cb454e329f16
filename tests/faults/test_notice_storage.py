"""A notices folder that is full or read-only while a notice is written (a real, size-limited or
read-only file system, mounted for one `munibill` process in a mount namespace of its own): the
command fails with a message saying what to check, no half file is left, nothing is recorded,
and once there is room the same command issues the notice."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess

import pytest
import sqlalchemy as sa

from accounts.models import Account
from core.extensions import db
from core.models import AuditEvent
from notices.models import Notice
from tests.faults.conftest import BIN, ROOT, child_env
from tests.payments.test_webhooks import _town

STATEMENT = ["notices", "statement", "--from", "2026-10-01", "--to", "2026-11-30", "--account"]
#: The folder's file system: read-only, or 64 KiB all taken by a filler (a full disk).
MOUNTS = {
    "read-only": 'mount -t tmpfs -o ro,size=1m tmpfs "$NOTICES_DIR"',
    "full": 'mount -t tmpfs -o size=64k tmpfs "$NOTICES_DIR" && '
    'head -c 65536 /dev/zero > "$NOTICES_DIR/filler"',
}
#: In the namespace: mount, run the command, then list the files the folder holds.
SCRIPT = '{mount} && "$MUNIBILL" "$@"; echo "exit $?"; find "$NOTICES_DIR" -type f | sort'


def _in_own_mount_namespace() -> list[str]:
    """unshare: as root a private mount namespace; otherwise one inside a user namespace."""
    assert shutil.which("unshare"), "unshare (util-linux) is needed to mount a private folder"
    if os.geteuid() == 0:
        return ["unshare", "--mount", "--propagation", "private"]
    return ["unshare", "--user", "--map-root-user", "--mount", "--propagation", "private"]


@pytest.mark.slow
@pytest.mark.parametrize("trouble", ["read-only", "full"])
def test_a_notice_that_cannot_be_written_fails_clearly_and_leaves_nothing(
    app, database_url, instance, tmp_path, trouble
):
    (account_id,) = _town(app)
    with app.app_context():
        db.session.commit()
        number = db.session.get(Account, account_id).number
        audit_before = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent))
    folder = tmp_path / "notices"
    folder.mkdir()
    env = child_env(database_url, instance, NOTICES_DIR=str(folder), MUNIBILL=str(BIN / "munibill"))
    done = subprocess.run(
        [
            *_in_own_mount_namespace(),
            "sh",
            "-c",
            SCRIPT.format(mount=MOUNTS[trouble]),
            "sh",
            *STATEMENT,
            number,
        ],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "exit 1" in done.stdout, done.stdout + done.stderr
    assert "could not write the notice" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    files = done.stdout.split("exit 1", 1)[1].split()
    assert files == ([] if trouble == "read-only" else [f"{folder}/filler"])  # no half file
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Notice)) == 0
        assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)) == audit_before
    app.config["NOTICES_DIR"] = str(folder)  # the same command, in this process, with room
    again = app.test_cli_runner().invoke(args=[*STATEMENT, number])
    assert again.exit_code == 0, again.output
    with app.app_context():
        (notice,) = db.session.scalars(sa.select(Notice)).all()
        assert hashlib.sha256((folder / notice.path).read_bytes()).hexdigest() == notice.sha256
