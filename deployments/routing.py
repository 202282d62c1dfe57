"""Websocket routes (consumers land with the live-updates work)."""
from django.urls import path  # noqa: F401

websocket_urlpatterns: list = []
