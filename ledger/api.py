"""/api/v1/ledger (the chart, the trial balance, the chain's verification) and /api/v1/exports:
the auditors' files (ledger, payments, invoices, audit log) and their manifests.

CSV and JSON Lines stream as they are read, so their SHA-256 is not known
until the last byte has gone and cannot be sent in a header. The manifest is
therefore its own request: it produces the same export again (into nothing, or
a temporary file for XLSX) in its own snapshot and returns the manifest. The
ledger is append-only, so passing the `X-Ledger-Length` header of the download
as `through_seq` gives the manifest of exactly the bytes that were downloaded.
XLSX is written to a temporary file before it is sent, so its response also
carries `X-Export-SHA256` and `X-Export-Rows`. docs/audit.md says all this.
"""

from __future__ import annotations

import tempfile

import marshmallow as ma
import sqlalchemy as sa
from flask import current_app, send_file, stream_with_context
from flask_smorest import Blueprint, abort

from core.apidoc import file_response
from core.auth import requires
from core.extensions import db
from core.replica import read_engine
from ledger.balances import trial_balance
from ledger.export_datasets import DATASETS
from ledger.exports import FORMATS, ExportError, ExportRequest, ExportRun
from ledger.models import GLAccount
from ledger.schemas import AsOfSchema, GLAccountSchema, TrialBalanceSchema, VerifySchema
from ledger.verify import verify_chain

exports_api = Blueprint(
    "exports_api",
    __name__,
    url_prefix="/api/v1/exports",
    description="Exports for auditors, with manifests they can check outside the system",
)


ledger_api = Blueprint(
    "ledger_api",
    __name__,
    url_prefix="/api/v1/ledger",
    description="The general ledger (read only)",
)


class ExportQuerySchema(ma.Schema):
    """The period and filters of an export."""

    format = ma.fields.String(load_default="csv", validate=ma.validate.OneOf(list(FORMATS)))
    date_from = ma.fields.Date(data_key="from", metadata={"description": "First day, inclusive"})
    date_to = ma.fields.Date(data_key="to", metadata={"description": "Last day, inclusive"})
    gl = ma.fields.String(metadata={"description": "Ledger: entries with a line on this GL code"})
    source = ma.fields.String(metadata={"description": "Ledger: entries of this source type"})
    action = ma.fields.String(metadata={"description": "Audit log: actions with this prefix"})
    actor = ma.fields.String(metadata={"description": "Audit log: events by this actor label"})
    through_seq = ma.fields.Integer(
        validate=ma.validate.Range(min=0),
        metadata={
            "description": "Ledger: entries up to this seq (the X-Ledger-Length of a download)"
        },
    )

    @ma.validates_schema
    def _ordered(self, data, **_kwargs):
        if data.get("date_from") and data.get("date_to") and data["date_to"] < data["date_from"]:
            raise ma.ValidationError("the end of the period is before its start", field_name="to")


class ManifestSchema(ma.Schema):
    """What an export holds and how to check it (docs/audit.md)."""

    dataset = ma.fields.String()
    format = ma.fields.String()
    file = ma.fields.String()
    filters = ma.fields.Dict()
    period = ma.fields.Dict()
    columns = ma.fields.List(ma.fields.String())
    rows = ma.fields.Integer()
    bytes = ma.fields.Integer()
    sha256 = ma.fields.String()
    created_at = ma.fields.String()
    chain = ma.fields.Dict()
    munibill_version = ma.fields.String()


def _open_run(dataset: str, args: dict) -> ExportRun:
    """Start the export's snapshot; a bad dataset is 404, a bad filter 422 naming it."""
    if dataset not in DATASETS:
        abort(404, message=f"No export {dataset}; use one of {', '.join(DATASETS)}.")
    try:
        request = ExportRequest(dataset, **args)
        return ExportRun(
            read_engine(), request, timezone=current_app.config["MUNICIPALITY_TIMEZONE"]
        ).open()
    except ExportError as error:
        abort(422, errors={error.field: [str(error)]})


def _headers(run: ExportRun) -> dict[str, str]:
    """What is known before the first byte: the chain head of the snapshot."""
    return {"X-Ledger-Length": str(run.head.length), "X-Ledger-Head-Hash": run.head.hash}


@exports_api.route("/<dataset>")
@exports_api.arguments(ExportQuerySchema, location="query")
@exports_api.response(
    200,
    description="The file: CSV, XLSX or JSON Lines, as an attachment.",
)
@exports_api.doc(**file_response(*(media.split(";")[0] for media in FORMATS.values())))
@requires("read")
def download(args, dataset: str):
    """Download an export (ledger, payments, invoices or audit); CSV and JSON Lines stream."""
    run = _open_run(dataset, args)
    name = run.request.file_name()
    if run.request.format == "xlsx":
        target = tempfile.TemporaryFile()  # noqa: SIM115 - send_file closes it
        try:
            with run:
                run.write(target)
        except BaseException:
            target.close()
            raise
        target.seek(0)
        response = send_file(
            target, mimetype=FORMATS["xlsx"], as_attachment=True, download_name=name
        )
        response.headers.update(_headers(run))
        response.headers["X-Export-SHA256"] = run.sha256
        response.headers["X-Export-Rows"] = str(run.rows)
        return response

    def generate():
        with run:
            yield from run.chunks()

    response = current_app.response_class(
        stream_with_context(generate()), mimetype=FORMATS[run.request.format]
    )
    # NOTE: a response that is never read never starts the generator; close the snapshot anyway.
    response.call_on_close(run.close)
    response.headers.update(_headers(run))
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@exports_api.route("/<dataset>/manifest")
@exports_api.arguments(ExportQuerySchema, location="query")
@exports_api.response(200, ManifestSchema)
@requires("read")
def manifest(args, dataset: str):
    """The manifest of the export with the same filters: rows, SHA-256 and the chain head."""
    run = _open_run(dataset, args)
    with tempfile.TemporaryFile() as target, run:
        if run.request.format == "xlsx":
            run.write(target)
        else:
            for _chunk in run.chunks():
                pass
    return run.manifest(run.request.file_name())


@ledger_api.route("/gl-accounts")
@ledger_api.response(200, GLAccountSchema(many=True))
@requires("read")
def list_gl_accounts():
    """The chart of accounts."""
    return db.session.scalars(sa.select(GLAccount).order_by(GLAccount.code)).all()


@ledger_api.route("/trial-balance")
@ledger_api.arguments(AsOfSchema, location="query")
@ledger_api.response(200, TrialBalanceSchema)
@requires("read")
def get_trial_balance(args):
    """Debit and credit totals per GL account as of a date."""
    report = trial_balance(db.session, args.get("as_of"))
    return {
        "as_of": report.as_of,
        "rows": report.rows,
        "total_debit_cents": report.total_debit_cents,
        "total_credit_cents": report.total_credit_cents,
    }


@ledger_api.route("/verify")
@ledger_api.response(200, VerifySchema)
@requires("read")
def verify():
    """Walk the hash chain and report the first entry that does not match."""
    return verify_chain(db.session)


def init_app(app, api) -> None:
    """Register the ledger and exports API blueprints."""
    api.register_blueprint(ledger_api)
    api.register_blueprint(exports_api)
