"""One error type for the whole portal.

Services and integrations raise an `AirdockError` (or a subclass) whose message tells the user
what to do and whose `status` is the HTTP status it stands for. Three places turn it into an
answer, and only these: the API's exception handler (`deployments.api`), the views' helpers
(`portal.web`) and the deploy pipeline (`deployments.services.deploys.pipeline`), which records it
as the deploy's error.
"""
from __future__ import annotations


class AirdockError(Exception):
    """Something the user asked for cannot be done; `message` says why and what to do."""

    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def payload(self) -> dict:
        """The JSON body an API client gets."""
        return {"detail": self.message}


class Invalid(AirdockError):
    """The request is malformed or breaks a rule (400)."""

    @classmethod
    def from_validation(cls, exc) -> "Invalid":
        """A Django ValidationError as one message: "field: problem; field: problem"."""
        return cls("; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items()))


class Forbidden(AirdockError):
    status = 403


class NotFound(AirdockError):
    status = 404


class Conflict(AirdockError):
    """The request clashes with the current state, e.g. a deploy in progress (409)."""

    status = 409


class TooManyRequests(AirdockError):
    status = 429


class Unavailable(AirdockError):
    """A service Airdock needs (Redis, the Docker engine, storage) does not answer (503)."""

    status = 503
