"""The sites table's constraints, in words: what each means and the field it is about, the
same whichever surface's input PostgreSQL refused (`webmon.core.errors.invalid_from_database`)
or the core's own check refused first (`webmon.core.site_rules`)."""

from __future__ import annotations

from webmon.core.errors import ConstraintWords
from webmon.core.site_labels import NAME_WORDS, TAGS_WORDS

# The certificate warning's days: the model's words as the constraint's (1 to 365).
MIN_CERT_DAYS, MAX_CERT_DAYS = 1, 365
CERT_DAYS_WORDS = (
    f"a certificate warning comes {MIN_CERT_DAYS} to {MAX_CERT_DAYS} days before the expiry"
)
URL_FORMS = (
    "the URL must be http(s)://host…, tcp://host:port, tls://host[:port] or dns://[resolver]/name"
)
CONSTRAINTS: ConstraintWords = {
    "sites_url_form": ("url", URL_FORMS),
    "sites_http_options": (
        "url",
        "method, headers, a redirect limit and the other HTTP options (body, proxy, TLS, "
        "ip_version, require_tls, a header check, regex_mode) are options of http(s) URLs "
        "only",
    ),
    "sites_tls_without_regex": ("regex", "a tls:// check reads nothing, so it cannot have a regex"),
    "sites_url_length": ("url", "the URL may be at most 2,048 characters long"),
    "sites_url_no_whitespace": ("url", "the URL may not contain spaces or control characters"),
    "sites_url_no_userinfo": (
        "url",
        "the URL may not carry a user name or password; send credentials in headers",
    ),
    "sites_interval_range": ("interval_seconds", "the interval must be between 1 second and 1 day"),
    "sites_timeout_range": (
        "timeout_seconds",
        "the timeout must be more than 0 and at most 120 seconds",
    ),
    "sites_timeout_within_interval": (
        "timeout_seconds",
        "the timeout may not be longer than the interval",
    ),
    "sites_regex_length": ("regex", "the regex may be at most 1,000 characters long"),
    "sites_method": ("method", "the method must be GET, HEAD, POST or PUT"),
    "sites_head_without_regex": (
        "regex",
        "a HEAD request reads no body, so it cannot have a regex",
    ),
    "sites_body_length": ("body", "a body must be 1 to 65,536 bytes long"),
    "sites_body_needs_method": ("body", "only a POST or PUT request carries a body"),
    "sites_body_content_type": (
        "body_content_type",
        "a content type needs a body, and looks like type/subtype",
    ),
    "sites_proxy_http": (
        "proxy",
        "the proxy must be an http://host:port URL, without a path or credentials",
    ),
    "sites_tls_files": (
        "tls_cert_file",
        "a client certificate needs its key and a key its certificate; file paths are 1 to "
        "4,096 characters without control characters",
    ),
    "sites_tls_server_name": ("tls_server_name", "the TLS server name must be a host name"),
    "sites_ip_version": ("ip_version", "ip_version must be 4, 6 or null (any)"),
    "sites_header_check": (
        "header_regex",
        "a header check needs both a header name (an HTTP token) and a regex of at most "
        "1,000 characters",
    ),
    "sites_header_mode": ("header_mode", "header_mode must be match or not_match"),
    "sites_regex_mode": (
        "regex_mode",
        "regex_mode must be match or absent, and absent needs a regex",
    ),
    "sites_restricted_options": (
        "proxy",
        "a site registered or shaped through the API or the dashboard may not use a proxy or "
        "files on the checker host",
    ),
    "site_auth_username": (
        "auth",
        "a basic auth needs a user name without ':' (a bearer token none)",
    ),
    "sites_headers_valid": (
        "headers",
        "headers must be a JSON object of at most 50 string values, with HTTP token names, "
        "no control characters, and none of the framing headers",
    ),
    "sites_expected_status_range": (
        "expected_status",
        "expected statuses must lie within 100-599 and not be empty",
    ),
    "sites_max_redirects_range": (
        "max_redirects",
        "a site's redirect limit must be between 0 and 30",
    ),
    "sites_cert_expiry_days": ("cert_expiry_days", CERT_DAYS_WORDS),
    "sites_failure_threshold_range": (
        "failure_threshold",
        "the failure threshold must be between 1 and 100 checks",
    ),
    "sites_success_threshold_range": (
        "success_threshold",
        "the success threshold must be between 1 and 100 checks",
    ),
    "sites_reminder_range": ("reminder", "a reminder interval must be between 1 minute and 7 days"),
    "sites_tags_valid": ("tags", TAGS_WORDS),
    "sites_name_valid": ("name", NAME_WORDS),
    "sites_regions_valid": (
        "regions",
        "regions must be 1 to 16 distinct names of 1 to 40 lower-case letters, digits, '-' "
        "or '_', starting with a letter or a digit",
    ),
    "sites_quorum_range": (
        "quorum",
        "the quorum must be between 1 and the number of the site's regions (null: a majority)",
    ),
}
