"""Astro Runtime versions: the table of what each version ships (`table`), how a Dockerfile's
base image resolves to a local image (`resolve`, `dockerfile`), and building that image on first
use (`images`)."""


def airflow_change(before: str, after: str) -> str:
    """"Airflow 2.10.5 → 3.1.8" when the major version changes, else ""."""
    if not before or not after or before.split(".")[0] == after.split(".")[0]:
        return ""
    return f"Airflow {before} → {after}"
