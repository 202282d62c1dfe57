"""The RQ worker the portal runs (`RQ["WORKER_CLASS"]`): RQ's own, which forks a work horse per
job, with the object stores' clients made once in the parent first, so that no job pays for them
(loading the S3 service model and resolving credentials took about 0.2 s of every deploy). Only
the clients are made there, never a connection: each work horse opens its own."""
from __future__ import annotations

from django.conf import settings
from django.core.files.storage import storages
from rq import Worker as RQWorker


def storage_clients_warm() -> list[str]:
    """Make the client of every storage that has one (django-storages' S3 makes it on first use);
    return their aliases."""
    made = []
    for alias in settings.STORAGES:
        storage = storages[alias]
        if hasattr(type(storage), "connection"):
            storage.connection  # noqa: B018 - the boto3 resource: made now, no request sent
            storage.bucket  # noqa: B018
            made.append(alias)
    return made


class Worker(RQWorker):
    def work(self, *args, **kwargs):
        storage_clients_warm()
        return super().work(*args, **kwargs)
