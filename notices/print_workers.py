"""Rendering a print batch's bills, a chunk at a time, in this process or in worker processes.

A chunk is a contiguous slice of the batch's invoice ids (in id order). Its
bills (and the owners' copies) are read, rendered and stored under
NOTICES_DIR by their hash; what comes back is each bill's `Rendered` (the
document, PDF, hash and page count), in the chunk's order. Nothing is written
to the database here: the batch (notices.print_batches) records the notices,
their numbers, the e-mails and the audit in its own process, chunk by chunk,
in the order of the ids, so the records are the same whether one process or
several rendered the bills.

With PRINT_WORKERS above 1 the chunks go to that many worker processes
(forked on Linux, spawned elsewhere; each opens its own database connections
from the batch's config and never touches the batch's own), at most two
chunks per worker ahead of the one being recorded, so memory does not grow
with the batch. Rendering needs no app context and no Flask session, only a
session and the config. A worker that fails
fails the batch with its reason; the chunks recorded before it stay, as
when a one-process batch is cut off.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import signal
import sys
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Session, joinedload, selectinload

from billing.models import Invoice
from notices import content
from notices.bill_recipients import owners_copied, owners_copy
from notices.issuing import NoticeError, Rendered, render_notice, store_pdf

#: How workers start: forked where that is the platform's way (Linux: no second start-up of
#: the interpreter, the modules and the app), else spawned.
START = "fork" if sys.platform == "linux" else "spawn"
#: Chunks handed to each worker ahead of the one the batch is recording.
AHEAD = 2


@dataclass(frozen=True)
class Made:
    """One bill rendered and stored, and the owner's copy when the owner gets one."""

    invoice_id: int
    bill: Rendered
    owner_id: int | None = None
    copy: Rendered | None = None


def render_chunk(session: Session, config: Mapping, ids: Sequence[int], on: date) -> list[Made]:
    """Read, render and store the bills of these invoices (and owners' copies), in id order."""
    invoices = session.scalars(
        sa.select(Invoice)
        .where(Invoice.id.in_(ids))
        .options(
            selectinload(Invoice.lines),
            selectinload(Invoice.installments),
            joinedload(Invoice.account),
        )
        .order_by(Invoice.id)
    ).all()
    facts = content.BillFacts(session, invoices, on)
    owners = owners_copied(session, invoices)
    made = []
    for invoice in invoices:
        rendered = render_notice(content.bill(session, config, invoice, on=on, facts=facts))
        store_pdf(config, rendered, durable=False)
        owner = owners.get(invoice.id)
        if owner is None:
            made.append(Made(invoice.id, rendered))
            continue
        copy = render_notice(owners_copy(rendered.document, owner))
        store_pdf(config, copy, durable=False)
        made.append(Made(invoice.id, rendered, owner.id, copy))
    return made


def rendered_chunks(
    session: Session,
    config: Mapping,
    ids: Sequence[int],
    on: date,
    *,
    chunk: int,
    workers: int,
) -> Iterator[tuple[Sequence[int], list[Made]]]:
    """(the chunk's ids, its bills) for each chunk of `ids`, in order.

    One worker (or one chunk) renders here, in the batch's own session, as a
    batch always has; more start that many worker processes.
    """
    chunks = [ids[start : start + chunk] for start in range(0, len(ids), chunk)]
    workers = min(workers, len(chunks))
    if workers <= 1:
        for part in chunks:
            yield part, render_chunk(session, config, part, on)
        return
    context = multiprocessing.get_context(START)
    pool = ProcessPoolExecutor(
        workers, mp_context=context, initializer=_start, initargs=(_portable(config), os.getpid())
    )
    try:
        waiting: deque[tuple[Sequence[int], Future]] = deque()
        upcoming = iter(chunks)
        for part in upcoming:
            waiting.append((part, pool.submit(_render, part, on)))
            if len(waiting) >= workers * AHEAD:
                break
        while waiting:
            part, future = waiting.popleft()
            yield part, _result(part, future)
            following = next(upcoming, None)
            if following is not None:
                waiting.append((following, pool.submit(_render, following, on)))
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _result(part: Sequence[int], future: Future) -> list[Made]:
    """A chunk's bills from its worker; NoticeError with the reason if the worker failed."""
    try:
        return future.result()
    except BrokenProcessPool as error:
        raise NoticeError(
            f"a print worker stopped while rendering invoices {part[0]}-{part[-1]}: {error}"
        ) from error


def _portable(config: Mapping) -> dict:
    """The batch's config, what of it can be sent to another process (all the bills need)."""
    return {key: value for key, value in config.items() if _picklable(value)}


def _picklable(value) -> bool:
    try:
        pickle.dumps(value)
    except (pickle.PicklingError, TypeError, AttributeError):
        return False
    return True


#: The worker process's engine (one per worker, made by _start).
_ENGINE: sa.Engine | None = None
#: The worker process's config.
_CONFIG: Mapping = {}


def _start(config: dict, parent: int) -> None:
    """In a new worker: its own engine (its own connections) on the batch's database.

    A forked worker leaves the connections it inherited alone (they are the
    batch's; closing them here would close them there) and never uses them.
    """
    global _ENGINE, _CONFIG
    from core.app import configure_engine

    _end_with(parent)
    options = dict(config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    # NOTE: no pool: a worker holds a connection only while it reads a chunk (and so no
    # pool's settings either).
    options["poolclass"] = sa.pool.NullPool
    options.pop("pool_use_lifo", None)
    _ENGINE = sa.create_engine(config["SQLALCHEMY_DATABASE_URI"], **options)
    configure_engine(_ENGINE)
    _CONFIG = config


def _end_with(parent: int) -> None:
    """On Linux, have the kernel stop this worker when the batch's process ends (killed
    included), so no worker is left waiting for chunks that will not come."""
    if sys.platform != "linux":
        return
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)
    if os.getppid() != parent:  # it ended before the line above
        os._exit(1)


def _render(ids: Sequence[int], on: date) -> list[Made]:
    """In a worker: one chunk's bills, in a session of its own."""
    try:
        with Session(_ENGINE) as session:
            return render_chunk(session, _CONFIG, ids, on)
    except NoticeError:
        raise
    except Exception as error:  # noqa: BLE001 - the batch gets the reason as a NoticeError
        raise NoticeError(
            f"a print worker could not render invoices {ids[0]}-{ids[-1]}: "
            f"{type(error).__name__}: {error}"
        ) from None
