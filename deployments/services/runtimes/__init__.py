"""Astro Runtime versions: the table of what each version ships (`table`), how a Dockerfile's
base image resolves to a local image (`resolve`, `dockerfile`), and building that image on first
use (`images`)."""
import re


def airflow_change(before: str, after: str) -> str:
    """"Airflow 2.10.5 → 3.1.8" when the major version changes, else ""."""
    if not before or not after or before.split(".")[0] == after.split(".")[0]:
        return ""
    return f"Airflow {before} → {after}"


def airflow_known_issue(version: str) -> str:
    """What a user of this Airflow version should know before an image of it runs (or "")."""
    found = re.match(r"(\d+)\.(\d+)\.(\d+)", version or "")  # "3.1.8", "3.1.0rc1", "3.1.8+local"
    if found and (3, 0, 0) <= tuple(int(n) for n in found.groups()) < (3, 2, 2):
        return (f"Airflow {version} may run a task twice when its scheduler is replaced (an image deploy, a settings "
                "change, a crash) in the instant the task starts: apache/airflow#55004, fixed in Airflow 3.2.2 "
                "(Astro Runtime 3.2-10). Give long tasks retries, or move to Runtime 3.2-10 or later.")
    return ""
