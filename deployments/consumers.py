"""Websocket consumers: each authorizes the user for its object in connect(), before joining a
group or sending anything; a foreign or anonymous socket is closed during the handshake."""
from __future__ import annotations

from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from tenancy.selectors import active_user

from . import events, selectors

CLOSE_UNAUTHENTICATED = 4401
CLOSE_NOT_FOUND = 4404


class LiveConsumer(AsyncJsonWebsocketConsumer):
    joined: list[str]

    async def connect(self) -> None:
        self.joined = []
        user = self.scope.get("user")
        if not await self._join_authorized(user if user is not None and user.is_authenticated else None):
            return
        await self.accept()
        for event in await database_sync_to_async(self.snapshot)(user):
            await self.send_json(event)

    async def disconnect(self, code: int) -> None:
        for group in self.joined:
            await self.channel_layer.group_discard(group, self.channel_name)

    async def airdock_event(self, message: dict) -> None:
        await self.send_json(message["event"])

    async def airdock_access(self, message: dict) -> None:
        """The user's memberships or account changed: keep only what the user may still see."""
        await self._join_authorized(await database_sync_to_async(self._current_user)())

    async def _join_authorized(self, user) -> bool:
        """Be in exactly the groups `user` may hear (plus the user's own); close when none."""
        groups = None if user is None else await database_sync_to_async(self.authorized_groups)(user)
        if groups is None:
            await self.close(code=CLOSE_UNAUTHENTICATED if user is None else CLOSE_NOT_FOUND)
            return False
        groups = [*groups, events.user_group(user.pk)]
        for group in set(self.joined) - set(groups):
            await self.channel_layer.group_discard(group, self.channel_name)
        for group in groups:
            if group not in self.joined:
                await self.channel_layer.group_add(group, self.channel_name)
        self.joined = groups
        return True

    async def airdock_signout(self, message: dict) -> None:
        session = self.scope.get("session")
        if session is not None and session.session_key == message["session_key"]:
            await self.close(code=CLOSE_UNAUTHENTICATED)

    def _current_user(self):
        """The socket's user as the database has it now, or None once inactive or deleted."""
        return active_user(self.scope["user"].pk)

    def authorized_groups(self, user) -> list[str] | None:
        raise NotImplementedError

    def snapshot(self, user) -> list[dict]:
        return []


class DeployConsumer(LiveConsumer):
    """A deploy's state, steps and log lines; `?after=SEQ` resends the lines after SEQ first."""

    def authorized_groups(self, user) -> list[str] | None:
        pk = self.scope["url_route"]["kwargs"]["pk"]
        self.deploy = selectors.deploys_for_user(user).filter(pk=pk).first()
        return None if self.deploy is None else [events.deploy_group(self.deploy.pk)]

    def snapshot(self, user) -> list[dict]:
        query = parse_qs(self.scope.get("query_string", b"").decode())
        try:
            after = int(query.get("after", ["0"])[0])
        except ValueError:
            after = 0
        lines = selectors.deploy_log_after(self.deploy, after)
        self.deploy.refresh_from_db()
        snapshot = [{"type": "deploy.state", "deploy_id": self.deploy.pk, "deployment_id": self.deploy.deployment_id,
                     "state": self.deploy.state, "error": self.deploy.error, "snapshot": True}]
        if lines:
            snapshot.append({"type": "deploy.log", "deploy_id": self.deploy.pk, "lines": lines})
        return snapshot


class DeploymentConsumer(LiveConsumer):
    def authorized_groups(self, user) -> list[str] | None:
        pk = self.scope["url_route"]["kwargs"]["pk"]
        deployment = selectors.deployments_for_user(user).filter(pk=pk).first()
        return None if deployment is None else [events.deployment_group(deployment.pk)]


class DashboardConsumer(LiveConsumer):
    """Every deployment the user can see: one group per visible workspace."""

    def authorized_groups(self, user) -> list[str] | None:
        return [events.workspace_group(pk) for pk in selectors.workspaces_for_user(user).values_list("pk", flat=True)]


class ComponentLogsConsumer(LiveConsumer):
    """A deployment's component log lines as they arrive (members of its workspace only);
    `?after=ID` first resends the lines after ID (a reconnecting page loses none)."""

    def authorized_groups(self, user) -> list[str] | None:
        pk = self.scope["url_route"]["kwargs"]["pk"]
        self.deployment = selectors.deployments_for_user(user).filter(pk=pk).first()
        return None if self.deployment is None else [events.component_logs_group(self.deployment.pk)]

    def snapshot(self, user) -> list[dict]:
        query = parse_qs(self.scope.get("query_string", b"").decode())
        try:
            after = int(query.get("after", [""])[0])
        except ValueError:
            return []
        lines = selectors.component_log_lines(self.deployment, after=after, limit=2000)
        return [{"type": "component.logs", "deployment_id": self.deployment.pk, "lines": [events.log_line(l) for l in lines],
                 "snapshot": True}] if lines else []
