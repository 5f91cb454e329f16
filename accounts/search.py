"""The clerks' account search: every word typed must match the account somewhere.

A word matches the start of the account number or of a ZIP code (mailing or service), or
appears anywhere in the former number, the holder's name, the e-mail, the mailing street or
city, a service street or a parcel id; letters in any case, `%`, `_` and `\\` taken literally.

On PostgreSQL each substring column has a pg_trgm GIN index on `lower(column)` and each
prefix column a `varchar_pattern_ops` b-tree (migration 383bdffc3061), so the query is
written for them. A rare word (the indexes find fewer than DENSE_MATCHES accounts for it,
counted up to there) gives its accounts as a UNION ALL of id lookups in each table (an OR
spanning tables would leave the planner a scan of every account); the accounts of every rare
word are intersected, each checked for the common words, and the page is taken by account
number. When every word is common (a town's name, a big street) the accounts are walked in
number order instead and the walk stops at a full page, as the LIKE search always did.

NOTE: a trigram index cannot find a word of one or two characters anywhere in a column
(it has no whole trigram to look up), and at county scale such a word matches a large share
of the town. When every word typed is that short, a word matches only the start of the
account number or of a parcel id; a short word beside a longer one narrows the longer word's
accounts as any other word does. docs/console.md says so.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from accounts.models import Account, Parcel, ServicePoint

#: The words of a search that are used; the rest are ignored.
MAX_WORDS = 6
#: The shortest word looked for anywhere in a column; shorter words match number prefixes.
SHORTEST_ANYWHERE = 3
#: A word matching this many accounts is common: rather than collect all its accounts and
#: sort them, the search walks the accounts in number order and stops at a full page.
DENSE_MATCHES = 5_000
#: The PostgreSQL indexes migration 383bdffc3061 builds for this search. The models do not
#: declare them (pg_trgm and the pattern operator classes exist on PostgreSQL only), so a
#: comparison of the models with the schema leaves them out (`not_in_models`).
POSTGRESQL_INDEXES = frozenset(
    {
        "ix_account_former_number_trgm",
        "ix_account_holder_name_trgm",
        "ix_account_email_trgm",
        "ix_account_mail_street_trgm",
        "ix_account_mail_city_trgm",
        "ix_account_number_prefix",
        "ix_account_mail_zip_prefix",
        "ix_service_point_street_trgm",
        "ix_service_point_zip_prefix",
        "ix_parcel_parcel_number_trgm",
    }
)


def not_in_models(_object, name, type_, _reflected, _compare_to) -> bool:
    """Alembic's include_object: False for the search's PostgreSQL-only indexes."""
    return not (type_ == "index" and name in POSTGRESQL_INDEXES)


def _like(text: str) -> str:
    """A LIKE pattern that finds text anywhere, with the wildcards in it taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _contains(column, pattern: str) -> sa.ColumnElement[bool]:
    """lower(column) LIKE pattern: the expression the trigram index is built on."""
    return sa.func.lower(column).like(pattern, escape="\\")


def _ids_matching(word: str) -> sa.Select:
    """The ids of the accounts a word of three or more characters matches (with repeats)."""
    pattern = _like(word.lower())
    own = sa.select(Account.id).where(
        sa.or_(
            Account.number.startswith(word, autoescape=True),
            _contains(Account.former_number, pattern),
            _contains(Account.holder_name, pattern),
            _contains(Account.email, pattern),
            _contains(Account.mail_street, pattern),
            _contains(Account.mail_city, pattern),
            Account.mail_zip.startswith(word, autoescape=True),
        )
    )
    served = sa.select(ServicePoint.account_id).where(
        sa.or_(
            _contains(ServicePoint.service_street, pattern),
            ServicePoint.service_zip.startswith(word, autoescape=True),
        )
    )
    owned = sa.select(Parcel.owner_account_id).where(_contains(Parcel.parcel_number, pattern))
    return sa.union_all(own, served, owned)


def _matches_anywhere(word: str) -> sa.ColumnElement[bool]:
    """The word matches the account row at hand (a filter on accounts already found)."""
    pattern = _like(word.lower())
    service = sa.select(ServicePoint.id).where(
        ServicePoint.account_id == Account.id,
        sa.or_(
            _contains(ServicePoint.service_street, pattern),
            ServicePoint.service_zip.startswith(word, autoescape=True),
        ),
    )
    parcel = sa.select(Parcel.id).where(
        Parcel.owner_account_id == Account.id, _contains(Parcel.parcel_number, pattern)
    )
    return sa.or_(
        Account.number.startswith(word, autoescape=True),
        _contains(Account.former_number, pattern),
        _contains(Account.holder_name, pattern),
        _contains(Account.email, pattern),
        _contains(Account.mail_street, pattern),
        _contains(Account.mail_city, pattern),
        Account.mail_zip.startswith(word, autoescape=True),
        service.exists(),
        parcel.exists(),
    )


def _starts_a_number(word: str) -> sa.ColumnElement[bool]:
    """The word begins the account number or one of the account's parcel ids."""
    parcel = sa.select(Parcel.owner_account_id).where(
        sa.func.lower(Parcel.parcel_number).startswith(word.lower(), autoescape=True)
    )
    return sa.or_(
        Account.number.startswith(word, autoescape=True), Account.id.in_(parcel.scalar_subquery())
    )


def _count_up_to(session: Session, word: str, cap: int) -> int:
    """How many matches of the word the indexes find, counting no further than cap."""
    return session.scalar(
        sa.select(sa.func.count()).select_from(_ids_matching(word).limit(cap).subquery())
    )


def rare_words(session: Session, words: list[str]) -> list[str]:
    """The words of three or more characters the indexes find fewer than DENSE_MATCHES
    accounts for; the others are common."""
    return [
        w
        for w in dict.fromkeys(words)
        if len(w) >= SHORTEST_ANYWHERE and _count_up_to(session, w, DENSE_MATCHES) < DENSE_MATCHES
    ]


def search_query(words: list[str], rare: list[str], *, limit: int) -> sa.Select:
    """The page of accounts matching every word, by account number: the accounts of every
    rare word through the indexes, each checked for the other words; with no rare word,
    the accounts in number order, each checked for every word (quick when they are common)."""
    anywhere = any(len(w) >= SHORTEST_ANYWHERE for w in words)
    query = sa.select(Account).order_by(Account.number).limit(limit)
    if rare:
        # One set of ids, not one IN per word: the planner knows too little of a UNION's
        # size to join several well, and would scan every account.
        each = [sa.select(_ids_matching(w).subquery().c[0]) for w in rare]
        query = query.where(Account.id.in_(sa.intersect(*each) if len(each) > 1 else each[0]))
    for word in words:
        if word not in rare:
            query = query.where(_matches_anywhere(word) if anywhere else _starts_a_number(word))
    return query


def search_accounts(session: Session, text: str, *, limit: int = 50) -> list[Account]:
    """Accounts matching every word typed (at most six), by account number, at most `limit`.

    "412 oak" finds the account mailed to or served at 412 Oak Street; "olson 54901"
    narrows a common name by ZIP code; "10" alone lists the accounts numbered 10….
    """
    words = text.split()[:MAX_WORDS]
    query = search_query(words, rare_words(session, words), limit=limit)
    return list(session.scalars(query))
