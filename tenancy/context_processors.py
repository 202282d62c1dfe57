from django.http import HttpRequest

from . import selectors


def navigation(request: HttpRequest) -> dict:
    """The organizations in the top bar (one query, whatever the page)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_organizations": []}
    return {"nav_organizations": selectors.organizations_for_user(user)}
