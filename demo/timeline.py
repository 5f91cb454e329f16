"""The demo's months after the conversion as a list of dated events, carried out in date order:
billing runs, payments, the nightly penalty assessment, service orders. An event may add later
ones (a run plans the residents' payments of its bills)."""

from __future__ import annotations

import heapq
from collections.abc import Callable
from datetime import date
from itertools import count

Event = Callable[[date], None]


class Timeline:
    """Events by day; on one day, in the order they were added."""

    def __init__(self) -> None:
        """An empty timeline."""
        self._events: list[tuple[date, int, Event]] = []
        self._order = count()

    def at(self, day: date, event: Event) -> None:
        """Carry out event(day) on day."""
        heapq.heappush(self._events, (day, next(self._order), event))

    def run(self, until: date) -> None:
        """Carry out every event up to and including until, oldest first; later ones are dropped."""
        while self._events and self._events[0][0] <= until:
            day, _order, event = heapq.heappop(self._events)
            event(day)
        self._events.clear()
