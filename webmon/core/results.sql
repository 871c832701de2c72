-- Named queries of webmon.core.results: results imported from elsewhere (another monitor,
-- a backup), loaded once by shared.queries.load_queries.

-- import_lock --
-- The writers' lock, shared: maintenance moves the rollup mark only between imports, so an
-- imported hour is either counted when the mark passes it or queued below (as the writer
-- queues its late results).
SELECT pg_advisory_xact_lock_shared(%(lock_key)s)

-- site_urls --
-- Every site, to name each imported row's site by id or by URL.
SELECT id, url FROM sites

-- create_import_staging --
CREATE TEMP TABLE results_import (LIKE check_results INCLUDING DEFAULTS) ON COMMIT DROP

-- copy_import --
-- The columns are webmon.core.results.COLUMNS, in order.
COPY results_import (site_id, scheduled_at, checked_at, response_time_ms, status_code, up,
                     regex_matched, error, error_detail, dns_ms, connect_ms, tls_ms,
                     ttfb_ms, redirects, tls_version, tls_expires_at)
FROM STDIN

-- take_imported --
-- Every staged check whose (site, slot, region) is not stored yet, raw or packed: the identity of a
-- check holds across imports and checks alike (and of two rows of one slot in the file, one
-- is kept). A day without a partition keeps its rows in check_results_default until the
-- next maintenance pass gives it one. Hours before the rollup mark are queued for a
-- recount; later ones are counted when the mark passes them. Returns how many were stored
-- and the first and last slot.
WITH added AS (
    INSERT INTO check_results (site_id, scheduled_at, checked_at, response_time_ms,
                               status_code, up, regex_matched, error, error_detail, dns_ms,
                               connect_ms, tls_ms, ttfb_ms, redirects, tls_version,
                               tls_expires_at)
    SELECT site_id, scheduled_at, checked_at, response_time_ms, status_code, up,
           regex_matched, error, error_detail, dns_ms, connect_ms, tls_ms, ttfb_ms,
           redirects, tls_version, tls_expires_at
      FROM results_import i
     WHERE NOT EXISTS (SELECT 1 FROM check_results_packed p
                        WHERE p.site_id = i.site_id
                          AND p.day = (i.scheduled_at AT TIME ZONE 'UTC')::date
                          AND p.region = i.region
                          AND i.scheduled_at = ANY (p.scheduled_at))
        ON CONFLICT (site_id, scheduled_at, region) DO NOTHING
    RETURNING scheduled_at
), queued AS (
    INSERT INTO webmon_rollup_queue (hour)
    SELECT DISTINCT date_trunc('hour', a.scheduled_at, 'UTC')
      FROM added a, webmon_rollup_state s
     WHERE a.scheduled_at < s.counted_to
        ON CONFLICT (hour) DO UPDATE SET hour = EXCLUDED.hour
)
SELECT count(*), min(scheduled_at), max(scheduled_at) FROM added
