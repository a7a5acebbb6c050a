"""Serve ``run_flow`` as a deployment that refreshes a corpus on a cron schedule."""

from __future__ import annotations

from flows.run import run_flow
from pipeline.errors import ConfigError


def check_cron(cron: str) -> None:
    """Raise :class:`ConfigError` unless ``cron`` is a schedule Prefect accepts."""
    from prefect.client.schemas.schedules import CronSchedule
    from pydantic import ValidationError

    try:
        CronSchedule(cron=cron)
    except (ValidationError, ValueError):
        raise ConfigError(
            f'--cron "{cron}" is not a cron expression: give five fields, "minute hour '
            'day-of-month month day-of-week" (UTC), e.g. "0 6 * * 1" for Mondays at 06:00'
        ) from None


def serve_refresh(corpus: str, out: str, cron: str, config: str | None = None,
                  name: str = "stancemap-refresh") -> None:
    """Serve the refresh deployment until interrupted (needs a real Prefect server).

    Each scheduled run is incremental: new files are processed, unchanged ones skipped,
    deleted ones removed from every table, and a run summary artifact is published.
    """
    run_flow.serve(name=name, cron=cron,
                   parameters={"corpus": corpus, "out": out, "config": config},
                   description=f"Refresh {corpus} into {out} on the schedule {cron}")
