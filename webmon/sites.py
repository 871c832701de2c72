"""Registering and changing sites, for the API and the dashboard alike: the parameters of
the read model's statements, the target policy's check, and which field a refused
constraint is about (so a form can show the error beside it)."""

from __future__ import annotations

from typing import Any

from psycopg.types.json import Jsonb

from shared.sealing import SecretBox
from webmon.api.schemas import OPTION_COLUMNS, AuthIn, SiteIn, SitePatch

DEFAULT_EXPECTED_STATUS = "{[200,400)}"

# The form field each constraint of `sites` is about.
CONSTRAINT_FIELDS = {
    "sites_url_form": "url",
    "sites_http_options": "url",
    "sites_tls_without_regex": "regex",
    "sites_url_length": "url",
    "sites_url_no_whitespace": "url",
    "sites_url_no_userinfo": "url",
    "sites_interval_range": "interval_seconds",
    "sites_timeout_range": "timeout_seconds",
    "sites_timeout_within_interval": "timeout_seconds",
    "sites_regex_length": "regex",
    "sites_method": "method",
    "sites_head_without_regex": "regex",
    "sites_headers_valid": "headers",
    "sites_expected_status_range": "expected_status",
    "sites_max_redirects_range": "max_redirects",
    "sites_body_length": "body",
    "sites_body_needs_method": "body",
    "sites_body_content_type": "body_content_type",
    "sites_proxy_http": "proxy",
    "sites_tls_files": "tls_cert_file",
    "sites_tls_server_name": "tls_server_name",
    "sites_ip_version": "ip_version",
    "sites_header_check": "header_regex",
    "sites_header_mode": "header_mode",
    "sites_regex_mode": "regex_mode",
    "sites_restricted_options": "proxy",
    "site_auth_username": "auth",
}


def multirange(pairs: list[tuple[int, int]] | None) -> str:
    """[low, high) pairs as PostgreSQL's int4multirange text."""
    if pairs is None:
        return DEFAULT_EXPECTED_STATUS
    return "{" + ",".join(f"[{low},{high})" for low, high in pairs) + "}"


def create_params(site: SiteIn) -> dict[str, Any]:
    """`api_create_site`'s parameters: a site from the API or the dashboard is restricted
    (checked under the target policy)."""
    return {
        "url": site.url,
        "interval_seconds": site.interval_seconds,
        "timeout_seconds": site.timeout_seconds,
        "regex": site.regex,
        "method": site.method,
        "headers": None if site.headers is None else Jsonb(site.headers),
        "expected_status": multirange(site.expected_status),
        "enabled": site.enabled,
        "restricted": True,
        **{name: getattr(site, name) for name in OPTION_COLUMNS},
    }


def update_params(site_id: int, patch: SitePatch) -> dict[str, Any]:
    """`api_update_site`'s parameters: each field changes only when the patch names it."""
    given = patch.model_fields_set
    return {
        "site_id": site_id,
        "set_url": "url" in given,
        "url": patch.url,
        "set_interval": "interval_seconds" in given,
        "interval_seconds": patch.interval_seconds,
        "set_timeout": "timeout_seconds" in given,
        "timeout_seconds": patch.timeout_seconds,
        "set_regex": "regex" in given,
        "regex": patch.regex,
        "set_method": "method" in given,
        "method": patch.method,
        "set_headers": "headers" in given,
        "headers": None if patch.headers is None else Jsonb(patch.headers),
        "set_expected": "expected_status" in given,
        "expected_status": multirange(patch.expected_status),
        "set_enabled": "enabled" in given,
        "enabled": patch.enabled,
        **{f"set_{name}": name in given for name in OPTION_COLUMNS},
        **{name: getattr(patch, name) for name in OPTION_COLUMNS},
    }


def auth_params(box: SecretBox, site_id: int, auth: AuthIn) -> dict[str, Any]:
    """`set_site_auth`'s parameters: the secret sealed to this site, kind and user name."""
    if auth.kind == "basic":
        username: str | None = auth.username
        secret = auth.password.get_secret_value()
    else:
        username, secret = None, auth.token.get_secret_value()
    sealed = box.seal(site_id, auth.kind, username, secret)
    return {"site_id": site_id, "kind": auth.kind, "username": username, "sealed": sealed}
