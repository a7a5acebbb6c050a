"""Prefect orchestration of the stancemap pipeline (see :mod:`flows.run`)."""
