-- One site's history for the HTTP API and the dashboard: its checks page by page, its
-- latency, a chart's series, its state changes. Part of the read model (webmon/readmodel);
-- the documented queries are in history.sql.

-- site_results --
-- One site's checks and missed slots, newest first, in [since, until) and before a cursor:
-- raw days and packed days alike. (A redelivery of a check already packed can show twice
-- until maintenance folds it in, as in check_results_all.)
SELECT scheduled_at, checked_at, up, status_code, response_time_ms, regex_matched, error,
       error_detail, dns_ms, connect_ms, tls_ms, ttfb_ms, redirects, tls_version,
       tls_expires_at
  FROM (SELECT * FROM check_results
         WHERE site_id = %(site_id)s AND scheduled_at >= %(since)s
           AND scheduled_at < least(%(until)s, %(before)s)
        UNION ALL
        SELECT u.* FROM check_results_packed p, webmon_unpack(p) u
         WHERE p.site_id = %(site_id)s
           AND p.day >= (%(since)s::timestamptz AT TIME ZONE 'UTC')::date
           AND p.day <= (least(%(until)s, %(before)s)::timestamptz AT TIME ZONE 'UTC')::date
           AND u.scheduled_at >= %(since)s
           AND u.scheduled_at < least(%(until)s, %(before)s)) AS r
 ORDER BY scheduled_at DESC
 LIMIT %(limit)s

-- latency --
-- p50 and p95 of one site's response times over the period that ends now: exact over the
-- raw rows since the rollup mark; before it, the hourly rollups' percentiles averaged by
-- their checks (percentiles of hours cannot be combined exactly: an approximation).
WITH w AS (
    SELECT now() - %(since)s::interval AS start, coalesce(rolled_up_to, '-infinity') AS mark
      FROM webmon_rollup_state
)
SELECT sum(p50 * n) / nullif(sum(n), 0), sum(p95 * n) / nullif(sum(n), 0)
  FROM (SELECT rt_p50_ms AS p50, rt_p95_ms AS p95, checks AS n
          FROM check_rollups_hourly
         WHERE site_id = %(site_id)s AND rt_p50_ms IS NOT NULL
           AND hour >= (SELECT start FROM w) AND hour < (SELECT mark FROM w)
        UNION ALL
        SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY response_time_ms),
               percentile_cont(0.95) WITHIN GROUP (ORDER BY response_time_ms), count(*)
          FROM check_results
         WHERE site_id = %(site_id)s AND status_code IS NOT NULL
           AND scheduled_at >= (SELECT greatest(start, mark) FROM w)) AS parts
 WHERE n > 0

-- series --
-- One site's checks per hour or per day (%(step)s) over the period that ends now, for a
-- chart: whole days from the daily rollups (step day), hours from the hourly ones, and the
-- raw rows since the rollup mark. Averages and percentiles of merged parts are weighted by
-- their checks.
WITH w AS (
    SELECT now() - %(since)s::interval AS start, coalesce(rolled_up_to, '-infinity') AS mark,
           coalesce(days_rolled_to, '-infinity') AS days_to
      FROM webmon_rollup_state
), parts AS (
    SELECT day::timestamp AT TIME ZONE 'UTC' AS t, checks, up_checks, missed,
           rt_avg_ms AS avg_ms, rt_p50_ms AS p50, rt_p95_ms AS p95
      FROM check_rollups_daily
     WHERE %(step)s = 'day' AND site_id = %(site_id)s
       AND day >= ((SELECT start FROM w) AT TIME ZONE 'UTC')::date
       AND day < (SELECT days_to FROM w)
    UNION ALL
    SELECT hour, checks, up_checks, missed, rt_avg_ms, rt_p50_ms, rt_p95_ms
      FROM check_rollups_hourly
     WHERE site_id = %(site_id)s
       AND hour >= (SELECT start FROM w) AND hour < (SELECT mark FROM w)
       AND (%(step)s = 'hour' OR hour >= (SELECT days_to FROM w)::timestamp AT TIME ZONE 'UTC')
    UNION ALL
    SELECT date_trunc('hour', scheduled_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC',
           count(*) FILTER (WHERE up IS NOT NULL), count(*) FILTER (WHERE up),
           count(*) FILTER (WHERE up IS NULL),
           avg(response_time_ms) FILTER (WHERE status_code IS NOT NULL),
           percentile_cont(0.5) WITHIN GROUP (ORDER BY response_time_ms)
               FILTER (WHERE status_code IS NOT NULL),
           percentile_cont(0.95) WITHIN GROUP (ORDER BY response_time_ms)
               FILTER (WHERE status_code IS NOT NULL)
      FROM check_results
     WHERE site_id = %(site_id)s
       AND scheduled_at >= (SELECT greatest(start, mark) FROM w)
     GROUP BY 1
)
SELECT date_trunc(%(step)s, t AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS bucket,
       sum(checks)::int, sum(up_checks)::int, sum(missed)::int,
       round(100.0 * sum(up_checks) / nullif(sum(checks), 0), 3)::float8,
       (sum(avg_ms * checks) / nullif(sum(checks) FILTER (WHERE avg_ms IS NOT NULL), 0))::float8,
       (sum(p50 * checks) / nullif(sum(checks) FILTER (WHERE p50 IS NOT NULL), 0))::float8,
       (sum(p95 * checks) / nullif(sum(checks) FILTER (WHERE p95 IS NOT NULL), 0))::float8
  FROM parts
 GROUP BY 1
 ORDER BY 1

-- site_events_page --
-- One site's state changes, newest first, before a cursor.
SELECT scheduled_at, checked_at, from_up, to_up, status_code, error, error_detail
  FROM site_events
 WHERE site_id = %(site_id)s AND scheduled_at < %(before)s
 ORDER BY scheduled_at DESC
 LIMIT %(limit)s

-- site_exists --
SELECT 1 FROM sites WHERE id = %(site_id)s
