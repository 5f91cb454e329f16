"""Core API endpoints: health, readiness, who am I, and the audit log (read only)."""

from __future__ import annotations

from datetime import UTC
from pathlib import Path

import marshmallow as ma
import sqlalchemy as sa
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Blueprint as FlaskBlueprint
from flask import current_app, jsonify
from flask_smorest import Blueprint

from core.auth import PERMISSIONS, current_principal, requires
from core.extensions import db
from core.models import AuditEvent, JobRun, JobStatus
from core.pagination import page_of

health = FlaskBlueprint("health", __name__)
me_api = Blueprint("me_api", __name__, url_prefix="/api/v1/me", description="The caller")
audit_api = Blueprint(
    "audit_api", __name__, url_prefix="/api/v1/audit-events", description="The audit log"
)


@health.route("/healthz")
def healthz():
    """200 when the database answers, 503 when it does not."""
    try:
        db.session.execute(sa.text("SELECT 1"))
    except sa.exc.DBAPIError:
        db.session.rollback()
        return jsonify(status="unavailable", database="unreachable"), 503
    return jsonify(status="ok", database="reachable")


def migration_heads() -> set[str]:
    """The head revisions of the migration scripts shipped with this code."""
    directory = current_app.extensions["migrate"].directory
    script = ScriptDirectory.from_config(_alembic_config(directory))
    return set(script.get_heads())


def _alembic_config(directory: str):
    """A minimal Alembic config pointing at the migrations folder."""
    from alembic.config import Config

    config = Config(str(Path(directory) / "alembic.ini"))
    config.set_main_option("script_location", directory)
    return config


@health.route("/readyz")
def readyz():
    """200 when the database is at the latest migration, 503 otherwise."""
    try:
        with db.engine.connect() as connection:
            current = set(MigrationContext.configure(connection).get_current_heads())
    except sa.exc.DBAPIError:
        return jsonify(status="unavailable", database="unreachable"), 503
    expected = migration_heads()
    if current != expected:
        return jsonify(
            status="migrations pending", current=sorted(current), expected=sorted(expected)
        ), 503
    return jsonify(status="ready", revision=sorted(current))


class MeSchema(ma.Schema):
    """The authenticated caller."""

    kind = ma.fields.String()
    label = ma.fields.String()
    role = ma.fields.String()
    permissions = ma.fields.List(ma.fields.String())


@me_api.route("")
@me_api.response(200, MeSchema)
@requires("read")
def me():
    """Who the token belongs to and what it may do."""
    principal = current_principal()
    return {
        "kind": principal.kind,
        "label": principal.label,
        "role": principal.role.value,
        "permissions": sorted(PERMISSIONS[principal.role]),
    }


class AuditEventSchema(ma.Schema):
    """One audit log event."""

    id = ma.fields.Integer()
    occurred_at = ma.fields.DateTime()
    actor_type = ma.fields.String()
    actor_id = ma.fields.String(allow_none=True)
    actor_label = ma.fields.String()
    action = ma.fields.String()
    object_type = ma.fields.String(allow_none=True)
    object_id = ma.fields.String(allow_none=True)
    summary = ma.fields.Dict()
    origin = ma.fields.String(allow_none=True)


class AuditQuerySchema(ma.Schema):
    """Filters for the audit log."""

    action = ma.fields.String()
    actor = ma.fields.String(metadata={"description": "Actor label, e.g. an e-mail"})
    object_type = ma.fields.String()
    object_id = ma.fields.String()
    since = ma.fields.AwareDateTime(default_timezone=UTC)
    until = ma.fields.AwareDateTime(default_timezone=UTC)


@audit_api.route("")
@audit_api.arguments(AuditQuerySchema, location="query")
@audit_api.response(200, AuditEventSchema(many=True))
@audit_api.paginate()
@requires("read")
def list_audit_events(filters, pagination_parameters):
    """The audit log, newest first, with filters."""
    query = sa.select(AuditEvent).order_by(AuditEvent.id.desc())
    for name, column in (
        ("action", AuditEvent.action),
        ("actor", AuditEvent.actor_label),
        ("object_type", AuditEvent.object_type),
        ("object_id", AuditEvent.object_id),
    ):
        if filters.get(name):
            query = query.where(column == filters[name])
    if filters.get("since"):
        query = query.where(AuditEvent.occurred_at >= filters["since"])
    if filters.get("until"):
        query = query.where(AuditEvent.occurred_at < filters["until"])
    return page_of(query, pagination_parameters)


job_runs_api = Blueprint(
    "job_runs_api", __name__, url_prefix="/api/v1/job-runs", description="Scheduled job runs"
)


class JobRunSchema(ma.Schema):
    """One run of a scheduled (or manually started) job."""

    id = ma.fields.Integer()
    job = ma.fields.String()
    trigger = ma.fields.String()
    as_of = ma.fields.Date()
    dry_run = ma.fields.Boolean()
    status = ma.fields.String()
    holder = ma.fields.String()
    started_at = ma.fields.DateTime()
    finished_at = ma.fields.DateTime(allow_none=True)
    counts = ma.fields.Dict()
    error = ma.fields.String(allow_none=True)


class JobRunQuerySchema(ma.Schema):
    """Filters for job runs."""

    job = ma.fields.String()
    status = ma.fields.Enum(JobStatus, by_value=True)


@job_runs_api.route("")
@job_runs_api.arguments(JobRunQuerySchema, location="query")
@job_runs_api.response(200, JobRunSchema(many=True))
@job_runs_api.paginate()
@requires("read")
def list_job_runs(filters, pagination_parameters):
    """Job runs, newest first: what each did (counts) or why it failed."""
    query = sa.select(JobRun).order_by(JobRun.id.desc())
    if filters.get("job"):
        query = query.where(JobRun.job == filters["job"])
    if filters.get("status"):
        query = query.where(JobRun.status == filters["status"])
    return page_of(query, pagination_parameters)


def init_app(app, api) -> None:
    """Register health checks and the core API blueprints."""
    app.register_blueprint(health)
    api.register_blueprint(me_api)
    api.register_blueprint(audit_api)
    api.register_blueprint(job_runs_api)
