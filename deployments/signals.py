"""Open websockets follow access changes: memberships, deactivated accounts, sign-out."""
from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_out
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from tenancy.models import OrganizationMembership, WorkspaceMembership

from . import events


@receiver([post_save, post_delete], sender=OrganizationMembership)
@receiver([post_save, post_delete], sender=WorkspaceMembership)
def membership_changed(sender, instance, **kwargs) -> None:
    events.access_changed(instance.user_id)


@receiver(post_save, sender=get_user_model())
def account_changed(sender, instance, created, **kwargs) -> None:
    if not created and not instance.is_active:
        events.access_changed(instance.pk)


@receiver(user_logged_out)
def signed_out(sender, request, user, **kwargs) -> None:
    session_key = getattr(getattr(request, "session", None), "session_key", None)
    if user is not None and session_key:
        events.session_ended(user.pk, session_key)
