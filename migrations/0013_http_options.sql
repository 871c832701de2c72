-- Per-site HTTP options (issue 19, item 2), after blackbox_exporter's HTTP module. Every
-- column is nullable or has a constant default, so adding them touches only the catalog;
-- the CHECKs read sites once. Each constraint has a name the API and CLI turn into words
-- (webmon/api/problems.py).

-- POST and PUT, which carry a body; a regex needs a body to search, so only HEAD is
-- refused one.
ALTER TABLE sites
    DROP CONSTRAINT sites_method,
    DROP CONSTRAINT sites_head_without_regex,
    ADD CONSTRAINT sites_method CHECK (method IN ('GET', 'HEAD', 'POST', 'PUT')),
    ADD CONSTRAINT sites_head_without_regex CHECK (method <> 'HEAD' OR regex IS NULL);

ALTER TABLE sites
    -- The request body (text, sent as UTF-8), only with a method that carries one.
    ADD COLUMN body text,
    ADD COLUMN body_content_type text,
    -- An http:// forward proxy (https targets go through it with CONNECT), no credentials.
    ADD COLUMN proxy text,
    -- TLS: files on the checker host (a CA bundle in PEM; a client certificate and its
    -- key), verification on or off, and the name sent as SNI and verified against.
    ADD COLUMN tls_ca_file text,
    ADD COLUMN tls_cert_file text,
    ADD COLUMN tls_key_file text,
    ADD COLUMN tls_verify boolean NOT NULL DEFAULT true,
    ADD COLUMN tls_server_name text,
    -- NULL: any address family; 4 or 6: only that one.
    ADD COLUMN ip_version smallint,
    -- Down unless the final URL (after redirects) is https.
    ADD COLUMN require_tls boolean NOT NULL DEFAULT false,
    -- A response header check: up only if a value of header_name matches header_regex
    -- ('match'), or only if none does ('not_match').
    ADD COLUMN header_name text,
    ADD COLUMN header_regex text,
    ADD COLUMN header_mode text NOT NULL DEFAULT 'match',
    -- 'match': up only if the body matches the regex; 'absent': only if it does not.
    ADD COLUMN regex_mode text NOT NULL DEFAULT 'match',
    ADD CONSTRAINT sites_body_length
        CHECK (body IS NULL OR octet_length(body) BETWEEN 1 AND 65536),
    ADD CONSTRAINT sites_body_needs_method CHECK (body IS NULL OR method IN ('POST', 'PUT')),
    ADD CONSTRAINT sites_body_content_type
        CHECK (body_content_type IS NULL
               OR (body IS NOT NULL AND length(body_content_type) <= 200
                   AND body_content_type ~ '^[!#$%&''*+.^_`|~0-9A-Za-z-]+/[^[:cntrl:]]+$')),
    ADD CONSTRAINT sites_proxy_http
        CHECK (proxy IS NULL
               OR (proxy ~* '^http://[^/?#@[:space:][:cntrl:]]+/?$' AND length(proxy) <= 2048)),
    ADD CONSTRAINT sites_tls_files
        CHECK ((tls_cert_file IS NULL) = (tls_key_file IS NULL)
               AND coalesce(length(tls_ca_file), 1) BETWEEN 1 AND 4096
               AND coalesce(length(tls_cert_file), 1) BETWEEN 1 AND 4096
               AND coalesce(length(tls_key_file), 1) BETWEEN 1 AND 4096
               AND concat(tls_ca_file, tls_cert_file, tls_key_file) !~ '[[:cntrl:]]'),
    ADD CONSTRAINT sites_tls_server_name
        CHECK (tls_server_name IS NULL
               OR tls_server_name ~ '^[A-Za-z0-9]([A-Za-z0-9.-]{0,252}[A-Za-z0-9])?$'),
    ADD CONSTRAINT sites_ip_version CHECK (ip_version IS NULL OR ip_version IN (4, 6)),
    ADD CONSTRAINT sites_header_check
        CHECK ((header_name IS NULL) = (header_regex IS NULL)
               AND (header_name IS NULL OR (length(header_name) <= 256
                                            AND header_name ~ '^[!#$%&''*+.^_`|~0-9A-Za-z-]+$'))
               AND (header_regex IS NULL OR length(header_regex) BETWEEN 1 AND 1000)),
    ADD CONSTRAINT sites_header_mode CHECK (header_mode IN ('match', 'not_match')),
    ADD CONSTRAINT sites_regex_mode
        CHECK (regex_mode = 'match' OR (regex_mode = 'absent' AND regex IS NOT NULL)),
    -- A site from the API (restricted: an untrusted user's) may not name a proxy, which
    -- the target policy cannot see past, nor files on the checker host.
    ADD CONSTRAINT sites_restricted_options
        CHECK (NOT restricted OR (proxy IS NULL AND tls_ca_file IS NULL
                                  AND tls_cert_file IS NULL AND tls_key_file IS NULL));

-- A site's credentials, apart from `sites`: nothing that reads sites or site_status (the
-- API's lists, the read models, the dashboard, the documented queries) carries them. The
-- secret (password or token) is sealed with AES-256-GCM under WEBMON_SECRET_KEY by whoever
-- writes it (shared/sealing.py); the scheduler passes the sealed bytes through to the
-- task, and only a checker with the key opens them. kind and username are not secret.
CREATE TABLE site_auth (
    site_id    bigint PRIMARY KEY REFERENCES sites (id) ON DELETE CASCADE,
    kind       text NOT NULL,
    username   text,
    sealed     bytea NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT site_auth_kind CHECK (kind IN ('basic', 'bearer')),
    CONSTRAINT site_auth_username
        CHECK ((kind = 'basic') = (username IS NOT NULL)
               AND (username IS NULL OR (length(username) <= 256
                                         AND username !~ '[:[:cntrl:]]'))),
    CONSTRAINT site_auth_sealed_length CHECK (octet_length(sealed) BETWEEN 29 AND 4200)
);
