"""Serve ``run_flow`` as a deployment that refreshes a corpus on a cron schedule."""

from __future__ import annotations

from flows.run import run_flow


def serve_refresh(corpus: str, out: str, cron: str, config: str | None = None,
                  name: str = "stancemap-refresh") -> None:
    """Serve the refresh deployment until interrupted (needs a real Prefect server).

    Each scheduled run is incremental: new files are processed, unchanged ones skipped,
    deleted ones removed from every table, and a run summary artifact is published.
    """
    run_flow.serve(name=name, cron=cron,
                   parameters={"corpus": corpus, "out": out, "config": config},
                   description=f"Refresh {corpus} into {out} on the schedule {cron}")
