"""Websocket consumers: each authorizes the user for its object in connect(), before joining a
group or sending anything; a foreign or anonymous socket is closed during the handshake."""
from __future__ import annotations

from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from . import events, selectors

CLOSE_UNAUTHENTICATED = 4401
CLOSE_NOT_FOUND = 4404


class LiveConsumer(AsyncJsonWebsocketConsumer):
    joined: list[str]

    async def connect(self) -> None:
        self.joined = []
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        groups = await database_sync_to_async(self.authorized_groups)(user)
        if groups is None:
            await self.close(code=CLOSE_NOT_FOUND)
            return
        for group in groups:
            await self.channel_layer.group_add(group, self.channel_name)
        self.joined = groups
        await self.accept()
        for event in await database_sync_to_async(self.snapshot)(user):
            await self.send_json(event)

    async def disconnect(self, code: int) -> None:
        for group in self.joined:
            await self.channel_layer.group_discard(group, self.channel_name)

    async def airdock_event(self, message: dict) -> None:
        await self.send_json(message["event"])

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
        lines = list(self.deploy.log_lines.filter(seq__gt=after).order_by("seq").values("seq", "step", "text")[:5000])
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
