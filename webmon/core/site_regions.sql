-- A site's regions beside its quorum: the advisories of a region below the quorum (the rule
-- is webmon_advisories, migrations/functions/090_quorum_reads.sql) and each region's own
-- state, latency and uptime. Statements of webmon.core.site_regions.

-- site_advisories --
-- One site's advisories, in the order of its regions.
SELECT region, since, failures FROM webmon_advisories(%(site_id)s)

-- sites_advisories --
-- The advisories of a page of sites (%(site_ids)s), by site and in the order of each
-- site's regions. Only the page's sites checked from several regions are asked: a site
-- checked from one region never has one.
SELECT s.id AS site_id, a.region, a.since, a.failures
  FROM sites s
 CROSS JOIN LATERAL webmon_advisories(s.id) AS a
 WHERE s.id = ANY(%(site_ids)s::bigint[]) AND cardinality(s.regions) > 1
 ORDER BY s.id

-- region_summary --
-- Each of one site's regions, in the site's order, over the period that ends now
-- (%(since)s): its checks, up checks, uptime and missed slots counted as the documented
-- uptime query counts one region (whole days from the daily rollups, hours from the hourly
-- ones, the raw rows since the rollup mark); its p50 and average response time (the
-- rollups' weighted by their checks, exact over the raw rows: an approximation beyond the
-- last hour, as the uptime route's latency); its latest performed check (state and start,
-- from the raw days); whether an outage of the region covers now (webmon_region_out).
WITH site AS (
    SELECT regions FROM sites WHERE id = %(site_id)s
), w AS (
    SELECT start, mark, (start AT TIME ZONE 'UTC')::date + 1 AS first_day,
           greatest((start AT TIME ZONE 'UTC')::date + 1, days_rolled_to) AS end_day
      FROM (SELECT now() - %(since)s::interval AS start,
                   coalesce(rolled_up_to, '-infinity') AS mark, days_rolled_to
              FROM webmon_rollup_state) AS state
), parts AS (
    SELECT region, checks, up_checks, missed, rt_p50_ms AS p50, rt_avg_ms AS avg_ms,
           checks AS weight
      FROM check_rollups_daily
     WHERE site_id = %(site_id)s
       AND day >= (SELECT first_day FROM w) AND day < (SELECT end_day FROM w)
    UNION ALL
    SELECT region, checks, up_checks, missed, rt_p50_ms, rt_avg_ms, checks
      FROM check_rollups_hourly
     WHERE site_id = %(site_id)s AND hour >= (SELECT start FROM w)
       AND hour < (SELECT least(first_day::timestamp AT TIME ZONE 'UTC', mark) FROM w)
    UNION ALL
    SELECT region, checks, up_checks, missed, rt_p50_ms, rt_avg_ms, checks
      FROM check_rollups_hourly
     WHERE site_id = %(site_id)s
       AND hour >= (SELECT end_day::timestamp AT TIME ZONE 'UTC' FROM w)
       AND hour < (SELECT mark FROM w)
    UNION ALL
    SELECT region, count(*) FILTER (WHERE up IS NOT NULL), count(*) FILTER (WHERE up),
           count(*) FILTER (WHERE up IS NULL),
           percentile_cont(0.5) WITHIN GROUP (ORDER BY response_time_ms)
               FILTER (WHERE status_code IS NOT NULL),
           avg(response_time_ms) FILTER (WHERE status_code IS NOT NULL),
           count(*) FILTER (WHERE status_code IS NOT NULL)
      FROM check_results
     WHERE site_id = %(site_id)s AND scheduled_at >= (SELECT greatest(start, mark) FROM w)
     GROUP BY region
), totals AS (
    SELECT region, sum(checks) AS checks, sum(up_checks) AS up_checks, sum(missed) AS missed,
           sum(p50 * weight) / nullif(sum(weight) FILTER (WHERE p50 IS NOT NULL), 0) AS p50_ms,
           sum(avg_ms * weight) / nullif(sum(weight) FILTER (WHERE avg_ms IS NOT NULL), 0)
             AS avg_ms
      FROM parts
     GROUP BY region
)
SELECT r.region, coalesce(t.checks, 0)::integer AS checks,
       coalesce(t.up_checks, 0)::integer AS up_checks,
       round(100.0 * t.up_checks / nullif(t.checks, 0), 3)::float8 AS uptime_pct,
       coalesce(t.missed, 0)::integer AS missed, t.p50_ms::float8 AS p50_ms,
       t.avg_ms::float8 AS avg_ms, latest.up AS last_up, latest.checked_at AS last_checked_at,
       webmon_region_out(r.region, now()) AS out
  FROM site
 CROSS JOIN LATERAL unnest(site.regions) WITH ORDINALITY AS r(region, n)
  LEFT JOIN totals t ON t.region = r.region
  LEFT JOIN LATERAL (SELECT c.up, c.checked_at FROM check_results c
                      WHERE c.site_id = %(site_id)s AND c.region = r.region
                        AND c.up IS NOT NULL
                      ORDER BY c.scheduled_at DESC
                      LIMIT 1) AS latest ON true
 ORDER BY r.n
