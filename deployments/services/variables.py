"""Writes for a deployment's environment variables: set one, delete one, import a .env file.

Keys and values are checked here (deployments.models.variables holds the rules and the reserved
keys). A secret stays secret: it cannot become a plain variable, and since its value is never shown
back, changing it needs a new value. Every change is audited (keys, never values) and rolls out to
the deployment's components after it commits. Callers check that the actor may manage the
deployment, as for its other settings."""
from __future__ import annotations

import json
import re

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from portal.errors import AirdockError, Conflict, Invalid, NotFound
from tenancy.audit import Actor, audit_record

from ..models import (
    Deployment,
    EnvironmentVariable,
    Rollout,
    validate_variable_key,
    validate_variable_value,
)
from . import rollouts, runtime

_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}


def _check(validator, value: object, where: str = "") -> None:
    try:
        validator(value)
    except ValidationError as exc:
        raise Invalid(where + " ".join(exc.messages)) from exc


def _apply(deployment: Deployment, key: str, value: str | None, is_secret: bool | None,
           must_exist: bool | None) -> tuple[EnvironmentVariable, bool, bool]:
    """Create or update one variable; return (it, created, changed). `value` None keeps a plain
    variable's value; `is_secret` None keeps the variable's kind (plain for a new one)."""
    _check(validate_variable_key, key)
    variable = deployment.environment_variables.select_for_update().filter(key=key).first()
    if variable is None:
        if must_exist:
            raise NotFound(f"Deployment {deployment.name} has no environment variable {key}: create it instead.")
        variable, created = EnvironmentVariable(deployment=deployment, key=key, value="", is_secret=False), True
    else:
        if must_exist is False:
            raise Conflict(f"Deployment {deployment.name} already has an environment variable {key}: update it instead.")
        created = False
        if variable.is_secret and is_secret is False:
            raise Invalid(
                f"{key} is a secret, and a secret stays secret: it cannot become a plain variable. "
                "To make it plain, delete it and create it again."
            )
    secret = variable.is_secret or bool(is_secret)
    if value is None:
        if variable.is_secret:
            raise Invalid(f"{key} is a secret: give its new value (the current one is never shown, so it cannot be kept).")
        value = variable.value
    if secret and value == "":
        raise Invalid(f"A secret needs a value: give {key} one.")
    _check(validate_variable_value, value, f"{key}: ")
    changed = created or value != variable.value or secret != variable.is_secret
    if changed:
        variable.value, variable.is_secret = value, secret
        try:
            with transaction.atomic():
                variable.save()
        except IntegrityError as exc:  # created at the same moment by another request
            raise Conflict(f"{key} was just created by someone else; look at the variables and try again.") from exc
    return variable, created, changed


def _after_change(deployment: Deployment, action: str, target: str, actor: Actor | None, **detail) -> None:
    audit_record(organization=deployment.workspace.organization, action=action,
                 target=f"{deployment.name}: {target}", actor=actor, **detail)
    if deployment.desired_image_digest:  # the components get the variables at their next rollout
        rollouts.rollout_start(deployment=deployment, kind=Rollout.Kind.VARIABLES,
                               summary=f"{action.rsplit('.', 1)[1]} {target}", actor=actor)
        runtime.reconcile_soon(deployment.pk)


@transaction.atomic
def variable_set(*, deployment: Deployment, key: str, value: str | None, is_secret: bool | None,
                 actor: Actor | None = None, must_exist: bool | None = None) -> EnvironmentVariable:
    """Create or update `key`. `must_exist` True only updates (NotFound), False only creates (Conflict)."""
    variable, created, changed = _apply(deployment, key, value, is_secret, must_exist)
    if changed:
        _after_change(deployment, "deployment.variable.set", key, actor, created=created, is_secret=variable.is_secret)
    return variable


@transaction.atomic
def variable_delete(*, deployment: Deployment, key: str, actor: Actor | None = None) -> None:
    deleted, _ = deployment.environment_variables.filter(key=key).delete()
    if not deleted:
        raise NotFound(f"Deployment {deployment.name} has no environment variable {key}.")
    _after_change(deployment, "deployment.variable.delete", key, actor)


# ---- .env files -------------------------------------------------------------------------------------

_KEY_AND_REST = re.compile(r"(?:export\s+)?([^=\s]*)\s*=\s*(.*)", re.DOTALL)


def _quoted(rest: str, number: int) -> str:
    """The value of `"..."` (with \\n, \\t, \\", \\\\ escapes) or `'...'` (literal), then only a comment."""
    quote, out, i = rest[0], [], 1
    while i < len(rest) and rest[i] != quote:
        if quote == '"' and rest[i] == "\\" and i + 1 < len(rest):
            i += 1
            out.append(_ESCAPES.get(rest[i], "\\" + rest[i]))
        else:
            out.append(rest[i])
        i += 1
    if i >= len(rest):
        raise Invalid(f"Line {number}: the {quote} quote is not closed; close it on the same line (write a line break as \\n).")
    after = rest[i + 1:].strip()
    if after and not after.startswith("#"):
        raise Invalid(f"Line {number}: only a comment (# ...) may follow the quoted value.")
    return "".join(out)


def parse_env(text: str) -> list[tuple[int, str, str]]:
    """(line number, key, value) of each KEY=VALUE line of a .env file, in order.

    Understood: blank lines, `# comments`, `export KEY=VALUE`, values in single quotes (literal) or
    double quotes (with \\n escapes), unquoted values (up to a ` #` comment, trimmed)."""
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        match = _KEY_AND_REST.fullmatch(stripped)
        if match is None or not match.group(1):
            raise Invalid(f"Line {number} is not KEY=VALUE (nor a comment starting with #).")
        key, rest = match.groups()
        _check(validate_variable_key, key, f"Line {number}: ")
        if rest[:1] in ('"', "'"):
            value = _quoted(rest, number)
        else:
            value = re.split(r"\s#", rest, maxsplit=1)[0].strip()
        found.append((number, key, value))
    return found


@transaction.atomic
def variables_import(*, deployment: Deployment, text: str, is_secret: bool = False,
                     actor: Actor | None = None) -> dict[str, int]:
    """Set every variable of a .env file, all or nothing; return {"created", "updated", "unchanged"}.

    With `is_secret`, every variable becomes a secret; without it, new ones are plain and existing
    secrets stay secret (with the file's value)."""
    parsed = parse_env(text)
    if not parsed:
        raise Invalid("The file holds no KEY=VALUE lines.")
    last = {key: (number, value) for number, key, value in parsed}  # a later line wins, as in a shell
    created, updated = [], []
    for key, (number, value) in last.items():
        try:
            _, made, changed = _apply(deployment, key, value, True if is_secret else None, None)
        except AirdockError as exc:
            raise type(exc)(f"Line {number}: {exc.message}") from exc
        if changed:
            (created if made else updated).append(key)
    if created or updated:
        _after_change(deployment, "deployment.variable.import", ", ".join(created + updated), actor,
                      created=created, updated=updated, is_secret=is_secret)
    return {"created": len(created), "updated": len(updated), "unchanged": len(last) - len(created) - len(updated)}


@transaction.atomic
def variables_apply(*, deployment: Deployment, items: list, actor: Actor | None = None) -> dict[str, int]:
    """Set the variables of a deployment file ({"key", "value", "is_secret"} each), all or nothing.
    A secret listed without its value (as `inspect` prints it) keeps its stored value."""
    if not isinstance(items, list):
        raise Invalid('environment_variables: give a list of {"key": ..., "value": ..., "is_secret": ...}.')
    created, updated, seen = [], [], 0
    for number, item in enumerate(items, start=1):
        if not isinstance(item, dict) or "key" not in item or set(item) - {"key", "value", "is_secret"}:
            raise Invalid(f"environment_variables, entry {number}: give key, value and is_secret (and nothing else).")
        key, value, is_secret = item["key"], item.get("value"), item.get("is_secret", False)
        if not isinstance(is_secret, bool):
            raise Invalid(f"environment_variables, {key}: is_secret is true or false.")
        if value is None and is_secret:
            existing = deployment.environment_variables.filter(key=key, is_secret=True).exists()
            if not existing:
                raise Invalid(f"environment_variables, {key}: a new secret needs its value.")
            seen += 1
            continue  # as printed by inspect: the stored value stays
        if value is not None and not isinstance(value, str):
            value = json.dumps(value) if isinstance(value, (list, dict)) else str(value).lower() if isinstance(value, bool) else str(value)
        try:
            _, made, changed = _apply(deployment, key, "" if value is None else value, is_secret, None)
        except AirdockError as exc:
            raise type(exc)(f"environment_variables, {key}: {exc.message}") from exc
        seen += 1
        if changed:
            (created if made else updated).append(key)
    if created or updated:
        _after_change(deployment, "deployment.variable.apply", ", ".join(created + updated), actor,
                      created=created, updated=updated)
    return {"created": len(created), "updated": len(updated), "unchanged": seen - len(created) - len(updated)}
