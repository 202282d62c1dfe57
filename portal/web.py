"""How views turn an `AirdockError` into what a person sees: a message on the page.

- `form_submit(form, action)`: run a service call for a form; on error the message goes on the
  form, which keeps what the user typed, and the status tells the view how to answer.
- `@errors_as_messages("url_name")`: for buttons without a form (cancel, rollback, build again);
  the error becomes a flash message on the page named, with the view's own URL arguments.
"""
from __future__ import annotations

import functools
from typing import Callable, TypeVar

from django import forms
from django.contrib import messages
from django.shortcuts import redirect

from .errors import AirdockError

T = TypeVar("T")


def form_submit(form: forms.BaseForm, action: Callable[[], T], *, field: str | None = None) -> tuple[T | None, int]:
    """Return (what `action` returned, 200), or (None, the error's status) with the error on the form."""
    try:
        return action(), 200
    except AirdockError as exc:
        form.add_error(field, exc.message)
        return None, exc.status


def errors_as_messages(url_name: str):
    """Decorate a POST-only view: an AirdockError redirects to `url_name` with the message shown."""

    def decorate(view):
        @functools.wraps(view)
        def wrapper(request, *args, **kwargs):
            try:
                return view(request, *args, **kwargs)
            except AirdockError as exc:
                messages.error(request, exc.message)
                return redirect(url_name, *args, **kwargs)

        return wrapper

    return decorate
