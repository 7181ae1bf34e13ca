"""Calling the JSON API as an integration does: a personal token in ``Authorization: Bearer``."""

from __future__ import annotations

from typing import Any

from flask import Flask

from sosep_migrantes.auth import tokens
from sosep_migrantes.auth.models import User
from sosep_migrantes.extensions import db
from tests.factories import make_user

API = "/api/v1"


def token_for(user: User, days: int = 30, name: str = "Pruebas") -> str:
    """A live token of ``user`` (inside an app context), committed."""
    secret = tokens.create_token(user, name, days, created_by=user).secret
    db.session.commit()
    return secret


def user_with_token(role: str, **kwargs: Any) -> tuple[User, str]:
    user = make_user(role, **kwargs)
    return user, token_for(user)


class Integration:
    """A client of the API with one token; every request in its own application context (as in
    production), so no signed-in user is shared between calls."""

    def __init__(self, app: Flask, token: str, language: str | None = None) -> None:
        self.client = app.test_client()
        self.token = token
        self.language = language

    def headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.token}"}
        if self.language:
            headers["Accept-Language"] = self.language
        headers.update(extra or {})
        return headers

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.client.get(API + path, headers=self.headers(kwargs.pop("headers", None)), **kwargs)

    def post(self, path: str, json: Any = None, **kwargs: Any) -> Any:
        return self.client.post(
            API + path, json=json, headers=self.headers(kwargs.pop("headers", None)), **kwargs
        )

    def put(self, path: str, json: Any = None, **kwargs: Any) -> Any:
        return self.client.put(
            API + path, json=json, headers=self.headers(kwargs.pop("headers", None)), **kwargs
        )
