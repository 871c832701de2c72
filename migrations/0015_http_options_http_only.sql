-- The per-site HTTP options (0013) mean nothing to the tcp, tls and dns kinds (0014), which
-- ignore them: refused there, as method, headers and max_redirects already are, rather
-- than stored and silently not applied.
ALTER TABLE sites
    DROP CONSTRAINT sites_http_options,
    ADD CONSTRAINT sites_http_options CHECK (
        url ~* '^https?:'
        OR (method = 'GET' AND headers IS NULL AND max_redirects IS NULL
            AND body IS NULL AND proxy IS NULL
            AND tls_ca_file IS NULL AND tls_cert_file IS NULL AND tls_key_file IS NULL
            AND tls_verify AND tls_server_name IS NULL AND ip_version IS NULL
            AND NOT require_tls AND header_name IS NULL AND regex_mode = 'match')
    );
