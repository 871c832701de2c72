-- Named queries of the checker's result writer, loaded once by shared.queries.load_queries.

-- create_staging --
-- Per connection; emptied by every commit. One batch of results is COPYed here first.
CREATE TEMP TABLE IF NOT EXISTS results_staging (
    site_id          bigint NOT NULL,
    url              text NOT NULL,
    scheduled_at     timestamptz NOT NULL,
    checked_at       timestamptz NOT NULL,
    response_time_ms double precision,
    status_code      smallint,
    up               boolean NOT NULL,
    regex_matched    boolean,
    error            text,
    error_detail     text,
    dns_ms           real,
    connect_ms       real,
    tls_ms           real,
    ttfb_ms          real,
    redirects        smallint,
    tls_version      text,
    tls_expires_at   timestamptz
) ON COMMIT DELETE ROWS

-- copy_staging --
COPY results_staging (site_id, url, scheduled_at, checked_at, response_time_ms, status_code,
                      up, regex_matched, error, error_detail, dns_ms, connect_ms, tls_ms,
                      ttfb_ms, redirects, tls_version, tls_expires_at)
FROM STDIN (FORMAT BINARY)

-- insert_new_results --
-- The fast path: no result of the batch is stored yet (the usual case).
INSERT INTO check_results (site_id, scheduled_at, checked_at, response_time_ms, status_code,
                           up, regex_matched, error, error_detail, dns_ms, connect_ms, tls_ms,
                           ttfb_ms, redirects, tls_version, tls_expires_at)
SELECT site_id, scheduled_at, checked_at, response_time_ms, status_code,
       up, regex_matched, error, error_detail, dns_ms, connect_ms, tls_ms,
       ttfb_ms, redirects, tls_version, tls_expires_at
  FROM results_staging

-- insert_results --
-- (site_id, scheduled_at) is the identity of a check: a redelivered result adds nothing.
INSERT INTO check_results (site_id, scheduled_at, checked_at, response_time_ms, status_code,
                           up, regex_matched, error, error_detail, dns_ms, connect_ms, tls_ms,
                           ttfb_ms, redirects, tls_version, tls_expires_at)
SELECT site_id, scheduled_at, checked_at, response_time_ms, status_code,
       up, regex_matched, error, error_detail, dns_ms, connect_ms, tls_ms,
       ttfb_ms, redirects, tls_version, tls_expires_at
  FROM results_staging
    ON CONFLICT (site_id, scheduled_at) DO NOTHING

-- upsert_status --
-- The newest result of each site in the batch replaces the stored one only if it is for a
-- later slot; the row lock taken by ON CONFLICT makes concurrent writers safe. Results of
-- sites deleted meanwhile are skipped.
INSERT INTO site_status (site_id, url, scheduled_at, checked_at, response_time_ms, status_code,
                         up, regex_matched, error, error_detail, dns_ms, connect_ms, tls_ms,
                         ttfb_ms, redirects, tls_version, tls_expires_at, updated_at)
SELECT DISTINCT ON (r.site_id)
       r.site_id, r.url, r.scheduled_at, r.checked_at, r.response_time_ms, r.status_code,
       r.up, r.regex_matched, r.error, r.error_detail, r.dns_ms, r.connect_ms, r.tls_ms,
       r.ttfb_ms, r.redirects, r.tls_version, r.tls_expires_at, now()
  FROM results_staging r
  JOIN sites s ON s.id = r.site_id
 ORDER BY r.site_id, r.scheduled_at DESC
    ON CONFLICT (site_id) DO UPDATE
   SET url = EXCLUDED.url,
       scheduled_at = EXCLUDED.scheduled_at,
       checked_at = EXCLUDED.checked_at,
       response_time_ms = EXCLUDED.response_time_ms,
       status_code = EXCLUDED.status_code,
       up = EXCLUDED.up,
       regex_matched = EXCLUDED.regex_matched,
       error = EXCLUDED.error,
       error_detail = EXCLUDED.error_detail,
       dns_ms = EXCLUDED.dns_ms,
       connect_ms = EXCLUDED.connect_ms,
       tls_ms = EXCLUDED.tls_ms,
       ttfb_ms = EXCLUDED.ttfb_ms,
       redirects = EXCLUDED.redirects,
       tls_version = EXCLUDED.tls_version,
       tls_expires_at = EXCLUDED.tls_expires_at,
       updated_at = EXCLUDED.updated_at
 WHERE site_status.scheduled_at < EXCLUDED.scheduled_at
