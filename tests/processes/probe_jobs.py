"""A job for the scheduler process tests: it only records that it ran (its JobRun does that)."""


def tick(session, context) -> dict:
    """Nothing to do; the run itself is the evidence."""
    return {"ticks": 1}
