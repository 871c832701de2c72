-- Check fidelity: per-site request options, and what each check measured beyond the status.

-- Extra request headers of a site: a JSON object of string values, at most 50 of them and
-- 8 KiB in all; names are HTTP tokens, values have no control characters (no header
-- injection), and the headers that frame the message or the connection are webmon's own.
CREATE FUNCTION webmon_valid_headers(headers jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT CASE
        WHEN jsonb_typeof(headers) <> 'object' OR length(headers::text) > 8192 THEN false
        ELSE (SELECT count(*) <= 50 AND coalesce(bool_and(
                         name ~ '^[!#$%&''*+.^_`|~0-9A-Za-z-]+$'
                     AND lower(name) NOT IN ('content-length', 'transfer-encoding', 'connection',
                                             'upgrade', 'te', 'trailer', 'keep-alive')
                     AND jsonb_typeof(value) = 'string'
                     AND (value #>> '{}') !~ '[[:cntrl:]]'), true)
                FROM jsonb_each(headers) AS h(name, value))
    END
$$;

-- Adding columns with a constant default or none rewrites nothing; the CHECKs read sites once.
ALTER TABLE sites
    -- HEAD reads no body, so it cannot be combined with a regex.
    ADD COLUMN method text NOT NULL DEFAULT 'GET',
    -- Sent with every check of the site, over webmon's defaults (a User-Agent here replaces
    -- webmon's own).
    ADD COLUMN headers jsonb,
    -- The final statuses that count as up: '{[200,400)}' is 200-399.
    ADD COLUMN expected_status int4multirange NOT NULL DEFAULT '{[200,400)}',
    ADD CONSTRAINT sites_method CHECK (method IN ('GET', 'HEAD')),
    ADD CONSTRAINT sites_head_without_regex CHECK (method = 'GET' OR regex IS NULL),
    ADD CONSTRAINT sites_headers_valid CHECK (webmon_valid_headers(headers)),
    ADD CONSTRAINT sites_expected_status_range
        CHECK (NOT isempty(expected_status) AND expected_status <@ '{[100,600)}');

-- What a check measured. Phase durations in ms as real (4 bytes, ~7 significant digits:
-- 0.001 ms resolution below 10 s). Nullable and without defaults, so adding them to the
-- partitioned table touches only the catalog.
ALTER TABLE check_results
    ADD COLUMN dns_ms real,
    ADD COLUMN connect_ms real,
    ADD COLUMN tls_ms real,
    ADD COLUMN ttfb_ms real,
    ADD COLUMN redirects smallint,
    ADD COLUMN tls_version text,
    ADD COLUMN tls_expires_at timestamptz;

ALTER TABLE site_status
    ADD COLUMN dns_ms real,
    ADD COLUMN connect_ms real,
    ADD COLUMN tls_ms real,
    ADD COLUMN ttfb_ms real,
    ADD COLUMN redirects smallint,
    ADD COLUMN tls_version text,
    ADD COLUMN tls_expires_at timestamptz;
