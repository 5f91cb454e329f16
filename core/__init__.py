"""The core of munibill: everything every domain package stands on.

What belongs here: the app factory, settings, the unbound Flask extensions,
the database base class and column types, money arithmetic, check digits,
staff users, roles and API tokens, the audit log, error handling, the API
skeleton (/api/v1, OpenAPI, health checks), gap-free document numbers and the
base templates.

What does not: anything about invoices, payments or notices. core imports no
domain package, except create_app(), which registers their blueprints and
commands.
"""

from core.app import create_app

__all__ = ["create_app"]
