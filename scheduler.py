"""The schedule table and the scheduler process; nothing else.

Each entry names a module-level function in a package's jobs.py, run inside an
app context. The jobs (reminders, late fees, reconciliation, the janitor)
arrive with their issues; until then the table is empty and the process only
proves that it starts in the municipality's time zone.
"""

from __future__ import annotations

from apscheduler.schedulers.blocking import BlockingScheduler

#: (job id, "package.jobs:function", trigger kind, trigger arguments)
SCHEDULE: list[tuple[str, str, str, dict]] = []


def build_scheduler(app) -> BlockingScheduler:
    """A BlockingScheduler in the municipality's time zone holding the SCHEDULE."""
    scheduler = BlockingScheduler(
        timezone=app.config["MUNICIPALITY_TIMEZONE"],
        job_defaults={"coalesce": True, "misfire_grace_time": 300, "max_instances": 1},
    )
    for job_id, target, trigger, arguments in SCHEDULE:
        scheduler.add_job(_in_app_context(app, target), trigger, id=job_id, **arguments)
    return scheduler


def _in_app_context(app, target: str):
    """Wrap 'module:function' so it runs inside an app context."""
    module_name, function_name = target.split(":")

    def run():
        import importlib

        function = getattr(importlib.import_module(module_name), function_name)
        with app.app_context():
            function()

    run.__name__ = function_name
    return run


def main() -> None:
    """Run the scheduler until interrupted."""
    from core import create_app

    build_scheduler(create_app()).start()


if __name__ == "__main__":
    main()
