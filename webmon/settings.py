"""Settings of the `webmon` command line."""

from __future__ import annotations

from pydantic import SecretStr

from shared.settings import CommonSettings, SecretKeySettings, TargetPolicySettings


class CliSettings(TargetPolicySettings, SecretKeySettings):
    """PostgreSQL only, no Kafka settings; the target policy for what it tests and for
    sites added `--restricted`; the key that seals sites' credentials, if one is set."""

    model_config = CommonSettings.model_config

    database_url: SecretStr
