"""Jobs for the scheduler process tests: one that only records that it ran (its JobRun does
that), and the real janitor slowed down so that a test can kill its process mid-job."""


def tick(session, context) -> dict:
    """Nothing to do; the run itself is the evidence."""
    return {"ticks": 1}


def slow_janitor(session, context) -> dict:
    """The real janitor, pausing PROBE_COMMIT_PAUSE seconds after each commit, so that a test
    can kill its process in the middle of the work."""
    import os
    import time

    import sqlalchemy as sa

    from payments.jobs import janitor

    pause = float(os.environ.get("PROBE_COMMIT_PAUSE", "0"))
    target = session() if isinstance(session, sa.orm.scoped_session) else session

    def wait(_session) -> None:
        time.sleep(pause)

    sa.event.listen(target, "after_commit", wait)
    try:
        return janitor(session, context)
    finally:
        sa.event.remove(target, "after_commit", wait)
