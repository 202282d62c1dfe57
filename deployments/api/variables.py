"""Routes for a deployment's environment variables (as `astro deployment variable`): anyone in the
token's scope lists them (secret values never leave the portal); managers change them."""
from __future__ import annotations

from django.http import HttpRequest
from ninja import Router

from .. import selectors
from ..services import variables as variable_services
from .auth import get_scoped, managed_deployment
from .schemas import (
    ErrorOut,
    VariableIn,
    VariableOut,
    VariablesImportIn,
    VariablesImportOut,
    VariableUpdateIn,
)

router = Router(tags=["environment variables"])
ERRORS = {400: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut}


@router.get("/deployments/{deployment_id}/variables", response={200: list[VariableOut], 404: ErrorOut})
def list_variables(request: HttpRequest, deployment_id: int):
    return selectors.variables_for(get_scoped(selectors.token_deployments(request.auth), deployment_id))


@router.post("/deployments/{deployment_id}/variables/import", response={200: VariablesImportOut, **ERRORS})
def import_variables(request: HttpRequest, deployment_id: int, payload: VariablesImportIn):
    """Set every variable of a .env file, all or nothing (a bad line answers 400 with its number)."""
    deployment, actor = managed_deployment(request, deployment_id, "change a deployment's environment variables")
    return variable_services.variables_import(
        deployment=deployment, text=payload.text, is_secret=payload.is_secret, actor=actor
    )


@router.post("/deployments/{deployment_id}/variables", response={201: VariableOut, **ERRORS})
def create_variable(request: HttpRequest, deployment_id: int, payload: VariableIn):
    """Create a variable; 409 if the key exists (PUT changes it)."""
    deployment, actor = managed_deployment(request, deployment_id, "change a deployment's environment variables")
    variable = variable_services.variable_set(
        deployment=deployment, key=payload.key, value=payload.value, is_secret=payload.is_secret,
        actor=actor, must_exist=False,
    )
    return 201, variable


@router.put("/deployments/{deployment_id}/variables/{key}", response={200: VariableOut, **ERRORS})
def update_variable(request: HttpRequest, deployment_id: int, key: str, payload: VariableUpdateIn):
    deployment, actor = managed_deployment(request, deployment_id, "change a deployment's environment variables")
    return variable_services.variable_set(
        deployment=deployment, key=key, value=payload.value, is_secret=payload.is_secret, actor=actor, must_exist=True,
    )


@router.delete("/deployments/{deployment_id}/variables/{key}", response={204: None, **ERRORS})
def delete_variable(request: HttpRequest, deployment_id: int, key: str):
    deployment, actor = managed_deployment(request, deployment_id, "change a deployment's environment variables")
    variable_services.variable_delete(deployment=deployment, key=key, actor=actor)
    return 204, None
