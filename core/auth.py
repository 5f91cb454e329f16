"""Staff authentication, API tokens and the one place where roles are checked.

Permissions (docs/roles.md has the matrix):
- read: every staff role;
- write: clerk, supervisor, admin (day-to-day changes);
- approve: supervisor, admin (refunds, voids, adjustments);
- admin: admin (users and tokens).
An auditor holds only read: every request that could change something is
refused in `guard_request`, before any view runs.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import abort, g, request
from flask_login import current_user
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from core.audit import Actor, record
from core.db import utcnow
from core.lockouts import stranger_failed
from core.models import ApiToken, Role, StaffUser
from core.text import typed_address

PERMISSIONS: dict[Role, frozenset[str]] = {
    Role.AUDITOR: frozenset({"read"}),
    Role.CLERK: frozenset({"read", "write"}),
    Role.SUPERVISOR: frozenset({"read", "write", "approve"}),
    Role.ADMIN: frozenset({"read", "write", "approve", "admin"}),
}
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
TOKEN_PREFIX = "mbt"  # noqa: S105 - the public marker of munibill tokens
MIN_PASSWORD_LENGTH = 12


class AuthError(ValueError):
    """A sign-in or token problem, with a message fit to show."""


@dataclass(frozen=True)
class Principal:
    """Whoever makes the current request: a staff user or an API token."""

    kind: str  # "user" or "token"
    id: int
    label: str
    role: Role

    def can(self, permission: str) -> bool:
        """True when the role grants the permission."""
        return permission in PERMISSIONS[self.role]

    def actor(self, origin: str | None = None) -> Actor:
        """The Actor recorded in the audit log and ledger."""
        return Actor(self.kind, str(self.id), self.label, origin)


def hash_password(password: str) -> str:
    """Hash a staff password (scrypt, werkzeug's default)."""
    return generate_password_hash(password)


def check_password_strength(password: str) -> None:
    """Refuse passwords too short to be safe."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AuthError(f"The password must be at least {MIN_PASSWORD_LENGTH} characters long.")


def create_staff_user(
    session: Session, actor: Actor, *, email: str, name: str, role: Role | str, password: str
) -> StaffUser:
    """Create a staff user; refuses a duplicate e-mail or a weak password."""
    email = email.strip().lower()
    if "@" not in email:
        raise AuthError(f"{email!r} is not an e-mail address.")
    check_password_strength(password)
    if session.scalar(sa.select(StaffUser.id).where(StaffUser.email == email)):
        raise AuthError(f"A staff user with e-mail {email} already exists.")
    user = StaffUser(email=email, name=name.strip() or email, role=Role(role))
    user.password_hash = hash_password(password)
    session.add(user)
    session.flush()
    record(session, actor, "user.create", user, after={"email": email, "role": user.role})
    return user


def authenticate(
    session: Session,
    email: str,
    password: str,
    *,
    origin: str | None,
    now: datetime,
    max_failures: int,
    lockout: timedelta,
) -> StaffUser:
    """Check a sign-in; count failures and lock the user after max_failures in a row."""
    user = session.scalar(sa.select(StaffUser).where(StaffUser.email == email.strip().lower()))
    failure = AuthError("The e-mail or password is not correct.")
    if user is None:
        check_password_hash(_DUMMY_HASH, password)  # same work whether the user exists or not
        stranger = Actor("anonymous", None, typed_address(email), origin)
        locked = stranger_failed(
            session,
            stranger,
            "user",
            "StaffUser",
            now=now,
            max_failures=max_failures,
            lockout=lockout,
        )
        if locked is None:
            raise failure
        raise _too_many(locked.left, now_locked=locked.now_locked)
    actor = Actor("user", str(user.id), user.email, origin)
    if user.locked_until is not None and user.locked_until > now:
        record(session, actor, "user.login_refused", user, reason="locked")
        raise _too_many(user.locked_until - now, now_locked=False)
    if not user.active or not check_password_hash(user.password_hash, password):
        user.failed_logins += 1
        record(session, actor, "user.login_failed", user, failures=user.failed_logins)
        if user.failed_logins >= max_failures:
            user.locked_until = now + lockout
            user.failed_logins = 0
            record(session, actor, "user.locked", user, until=user.locked_until)
            raise _too_many(lockout, now_locked=True)
        raise failure
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    record(session, actor, "user.login", user)
    return user


_DUMMY_HASH = generate_password_hash("not a real password")


def _too_many(left: timedelta, *, now_locked: bool) -> AuthError:
    """The lockout's words (the same whether or not the address belongs to a user)."""
    seconds = int(left.total_seconds())
    minutes = seconds // 60 if now_locked else max(1, seconds // 60 + 1)
    return AuthError(f"Too many failed sign-ins. Try again in {minutes} minutes.")


def _hash_token(token: str) -> str:
    """SHA-256 of a token; tokens are long and random, so no salt is needed."""
    return hashlib.sha256(token.encode()).hexdigest()


def create_api_token(
    session: Session,
    actor: Actor,
    *,
    name: str,
    role: Role | str,
    created_by: StaffUser | None = None,
    expires_at: datetime | None = None,
) -> tuple[ApiToken, str]:
    """Create a token; returns the row and the secret, which is shown once."""
    prefix = secrets.token_hex(4)
    secret = f"{TOKEN_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    token = ApiToken(
        name=name,
        role=Role(role),
        prefix=prefix,
        token_hash=_hash_token(secret),
        created_by=created_by,
        expires_at=expires_at,
    )
    session.add(token)
    session.flush()
    record(session, actor, "token.create", token, after={"name": name, "role": token.role})
    return token, secret


def find_api_token(session: Session, secret: str, now: datetime) -> ApiToken | None:
    """The usable token matching the secret, or None."""
    parts = secret.split("_", 2)
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX:
        return None
    token = session.scalar(sa.select(ApiToken).where(ApiToken.prefix == parts[1]))
    if token is None or not hmac.compare_digest(token.token_hash, _hash_token(secret)):
        return None
    return token if token.usable(now) else None


def current_principal() -> Principal | None:
    """The principal of this request: the API token if one was sent, else the signed-in user."""
    if g.get("api_request"):
        return g.get("principal")
    if current_user.is_authenticated:
        return Principal("user", current_user.id, current_user.email, current_user.role)
    return None


def load_token_principal(session: Session) -> Principal | None:
    """Authenticate the Authorization: Bearer header, if any; abort 401 on a bad token."""
    header = request.headers.get("Authorization", "")
    if not header:
        return None
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret:
        abort(401, description="Use Authorization: Bearer <token>.")
    now = utcnow()
    token = find_api_token(session, secret.strip(), now)
    if token is None:
        abort(401, description="The API token is not valid, expired or revoked.")
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=5):
        token.last_used_at = now
        session.commit()
    principal = Principal("token", token.id, f"token:{token.name}", token.role)
    g.principal = principal
    return principal


def guard_request(principal: Principal | None) -> None:
    """Refuse any state-changing request from a principal without the write permission."""
    if principal is None or request.method in SAFE_METHODS:
        return
    if not principal.can("write"):
        abort(403, description="Your role can read but not change anything.")


def requires(permission: str):
    """Decorator: the view needs a principal holding permission (401 if none, 403 if lacking)."""

    def decorate(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            principal = current_principal()
            if principal is None:
                abort(401, description="Sign in or send an API token.")
            if not principal.can(permission):
                abort(403, description=f"This needs the {permission} permission.")
            return view(*args, **kwargs)

        wrapped.required_permission = permission
        return wrapped

    return decorate


def request_actor() -> Actor:
    """The Actor for the current request (used by views when calling services)."""
    principal = current_principal()
    origin = request.remote_addr
    if principal is None:
        return Actor("anonymous", None, "anonymous", origin)
    return principal.actor(origin)


def any_role(view):
    """Mark a view that any principal may POST to (sign-in, sign-out)."""
    view.any_role = True
    return view


def guard_current_request(app, session: Session) -> None:
    """before_request hook: authenticate API tokens, then apply the read-only rule."""
    from core.apidoc import API_PREFIX

    if request.path.startswith(API_PREFIX + "/"):
        g.api_request = True  # the API never trusts the session cookie
        principal = load_token_principal(session)
        public = request.path.startswith((f"{API_PREFIX}/docs", f"{API_PREFIX}/openapi.json"))
        if principal is None and not public:
            abort(401, description="Send an API token: Authorization: Bearer <token>.")
    else:
        principal = current_principal()
    view = app.view_functions.get(request.endpoint or "")
    if view is not None and getattr(view, "any_role", False):
        return
    guard_request(principal)
    needed = getattr(view, "required_permission", None)
    if principal is not None and needed and not principal.can(needed):
        # NOTE: before the view runs, so a role lacking the permission learns nothing of the
        # body it sent (schema checks run inside the view's own decorators).
        abort(403, description=f"This needs the {needed} permission.")
