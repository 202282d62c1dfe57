"""Bounded retries for the idempotent transfers of a deploy (pushing the image, storing the DAG
bundle): a registry or store that is down for a moment costs a few seconds, not the deploy; one
that stays down fails it, naming the step, after AIRDOCK_TRANSFER_ATTEMPTS attempts."""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from django.conf import settings

from portal.errors import AirdockError

T = TypeVar("T")


def with_retries(what: str, action: Callable[[], T], *, errors: tuple[type[AirdockError], ...], log: Callable[[str], None]) -> T:
    attempts = max(1, settings.AIRDOCK_TRANSFER_ATTEMPTS)
    delays = settings.AIRDOCK_TRANSFER_RETRY_DELAYS
    for attempt in range(1, attempts + 1):
        try:
            return action()
        except errors as exc:
            if attempt == attempts:
                raise type(exc)(f"{exc.message} (the {what} was tried {attempts} times)") from exc
            delay = delays[min(attempt - 1, len(delays) - 1)]
            log(f"WARNING: the {what} failed (attempt {attempt} of {attempts}): {exc.message}; trying again in {delay:g} s")
            time.sleep(delay)
    raise AssertionError("unreachable")
