"""Settings of the `webmon` command line."""

from __future__ import annotations

from pydantic import SecretStr
from pydantic_settings import BaseSettings

from shared.settings import CommonSettings


class CliSettings(BaseSettings):
    """The `webmon` CLI's site and status commands: PostgreSQL only, no Kafka settings."""

    model_config = CommonSettings.model_config

    database_url: SecretStr
