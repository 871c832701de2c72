-- One site's history for the API, the dashboard and the CLI: its checks page by page, its
-- latency, a chart's series, its state changes, and the overview's and the status page's
-- uptime strips. Statements of webmon.core.history; the documented queries are in
-- history.sql.

-- site_results --
-- One site's checks and missed slots, newest first, in [since, until) and before a cursor:
-- raw days and packed days alike; of one region (%(region)s) or all (NULL). (A redelivery of a check already packed can show twice
-- until maintenance folds it in, as in check_results_all.)
SELECT scheduled_at, checked_at, up, status_code, response_time_ms, regex_matched, error,
       error_detail, dns_ms, connect_ms, tls_ms, ttfb_ms, redirects, tls_version,
       tls_expires_at, region,
       -- false: an outage of the region covers the slot; the check counts for no quorum
       NOT webmon_region_out(region, scheduled_at) AS counted
  FROM (SELECT * FROM check_results
         WHERE site_id = %(site_id)s AND (%(region)s::text IS NULL OR region = %(region)s)
           AND scheduled_at >= %(since)s AND scheduled_at <= least(%(until)s, %(before)s)
        UNION ALL
        SELECT u.* FROM check_results_packed p, webmon_unpack(p) u
         WHERE p.site_id = %(site_id)s AND (%(region)s::text IS NULL OR p.region = %(region)s)
           AND p.day >= (%(since)s::timestamptz AT TIME ZONE 'UTC')::date
           AND p.day <= (least(%(until)s, %(before)s)::timestamptz AT TIME ZONE 'UTC')::date
           AND u.scheduled_at >= %(since)s
           AND u.scheduled_at <= least(%(until)s, %(before)s)) AS r
 -- The cursor is a check, (slot, region): the regions of its slot after it come next.
 WHERE scheduled_at < least(%(until)s, %(before)s)
    OR (scheduled_at = %(before)s AND %(before)s < %(until)s AND region > %(before_region)s)
 ORDER BY scheduled_at DESC, region
 LIMIT %(limit)s

-- latency --
-- p50 and p95 of one site's response times over the period that ends now: exact over the
-- raw rows since the rollup mark; before it, the hourly rollups' percentiles averaged by
-- their checks (percentiles of hours cannot be combined exactly: an approximation). Of one
-- region (%(region)s) or all (NULL).
WITH w AS (
    SELECT now() - %(since)s::interval AS start, coalesce(rolled_up_to, '-infinity') AS mark
      FROM webmon_rollup_state
)
SELECT sum(p50 * n) / nullif(sum(n), 0) AS p50_ms, sum(p95 * n) / nullif(sum(n), 0) AS p95_ms
  FROM (SELECT rt_p50_ms AS p50, rt_p95_ms AS p95, checks AS n
          FROM check_rollups_hourly
         WHERE site_id = %(site_id)s AND (%(region)s::text IS NULL OR region = %(region)s) AND rt_p50_ms IS NOT NULL
           AND hour >= (SELECT start FROM w) AND hour < (SELECT mark FROM w)
        UNION ALL
        SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY response_time_ms),
               percentile_cont(0.95) WITHIN GROUP (ORDER BY response_time_ms), count(*)
          FROM check_results
         WHERE site_id = %(site_id)s AND (%(region)s::text IS NULL OR region = %(region)s) AND status_code IS NOT NULL
           AND scheduled_at >= (SELECT greatest(start, mark) FROM w)) AS parts
 WHERE n > 0

-- series --
-- One site's checks per hour or per day (%(step)s) over the period that ends now, for a
-- chart: whole days from the daily rollups (step day), hours from the hourly ones, and the
-- raw rows since the rollup mark. Averages and percentiles of merged parts are weighted by
-- their checks. Of one region (%(region)s) or all (NULL).
WITH w AS (
    SELECT now() - %(since)s::interval AS start, coalesce(rolled_up_to, '-infinity') AS mark,
           coalesce(days_rolled_to, '-infinity') AS days_to
      FROM webmon_rollup_state
), parts AS (
    SELECT day::timestamp AT TIME ZONE 'UTC' AS t, checks, up_checks, missed,
           rt_avg_ms AS avg_ms, rt_p50_ms AS p50, rt_p95_ms AS p95
      FROM check_rollups_daily
     WHERE %(step)s = 'day' AND site_id = %(site_id)s AND (%(region)s::text IS NULL OR region = %(region)s)
       AND day >= ((SELECT start FROM w) AT TIME ZONE 'UTC')::date
       AND day < (SELECT days_to FROM w)
    UNION ALL
    SELECT hour, checks, up_checks, missed, rt_avg_ms, rt_p50_ms, rt_p95_ms
      FROM check_rollups_hourly
     WHERE site_id = %(site_id)s AND (%(region)s::text IS NULL OR region = %(region)s)
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
     WHERE site_id = %(site_id)s AND (%(region)s::text IS NULL OR region = %(region)s)
       AND scheduled_at >= (SELECT greatest(start, mark) FROM w)
     GROUP BY 1
)
SELECT date_trunc(%(step)s, t AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS t,
       sum(checks)::int AS checks, sum(up_checks)::int AS up_checks, sum(missed)::int AS missed,
       round(100.0 * sum(up_checks) / nullif(sum(checks), 0), 3)::float8 AS uptime_pct,
       (sum(avg_ms * checks) / nullif(sum(checks) FILTER (WHERE avg_ms IS NOT NULL), 0))::float8
         AS avg_ms,
       (sum(p50 * checks) / nullif(sum(checks) FILTER (WHERE p50 IS NOT NULL), 0))::float8
         AS p50_ms,
       (sum(p95 * checks) / nullif(sum(checks) FILTER (WHERE p95 IS NOT NULL), 0))::float8
         AS p95_ms
  FROM parts
 GROUP BY 1
 ORDER BY 1

-- site_events_page --
-- One site's state changes, newest first, before a cursor, with the regex's verdict of the
-- check that made each (from the raw rows; none once its day is packed), so that a change
-- to down says why as every other surface does. Of a slot several regions checked, the
-- check that stands for it: one that agrees with the change, the event's own first.
SELECT e.scheduled_at, e.checked_at, e.from_up, e.to_up, e.status_code, e.error,
       e.error_detail, c.regex_matched
  FROM site_events e
  LEFT JOIN LATERAL (
        SELECT c.regex_matched FROM check_results c
         WHERE c.site_id = e.site_id AND c.scheduled_at = e.scheduled_at AND c.up = e.to_up
         ORDER BY c.checked_at = e.checked_at DESC, c.checked_at, c.region
         LIMIT 1) c ON true
 WHERE e.site_id = %(site_id)s AND e.scheduled_at < %(before)s
 ORDER BY e.scheduled_at DESC
 LIMIT %(limit)s

-- site_uptime --
-- The uptime route's one statement: how many regions the site has (NULL: no such site),
-- the documented uptime query (history.sql's `uptime`, standing in for its braces below)
-- and `latency`, in one row. One statement, not three in a pipeline: half the client's CPU
-- per read, and less of the server's (bench/bench_api.py).
SELECT (SELECT cardinality(regions) FROM sites WHERE id = %(site_id)s) AS regions,
       u.checks, u.up_checks, u.uptime_pct, u.missed, l.p50_ms, l.p95_ms
  FROM ({uptime}) AS u, ({latency}) AS l

-- site_exists --
SELECT 1 FROM sites WHERE id = %(site_id)s

-- overview_extras --
-- For the sites of one page: uptime over 24 h and 30 d, and the last 24 hours as hourly
-- bars (up checks over checks, NULL for an hour without checks). From the rollups, and the
-- raw rows since the rollup mark for the hours not rolled up yet: a page of 50 sites reads
-- 50 sites' rows, never the history of all sites.
WITH w AS (
    SELECT coalesce(rolled_up_to, '-infinity') AS mark,
           date_trunc('hour', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS this_hour,
           (now() AT TIME ZONE 'UTC')::date::timestamp AT TIME ZONE 'UTC' AS today
      FROM webmon_rollup_state
), hours AS (
    SELECT s.id, h.hour, sum(h.checks) AS checks, sum(h.up_checks) AS up_checks
      FROM unnest(%(site_ids)s::bigint[]) AS s(id)
      CROSS JOIN LATERAL (
          SELECT hour, checks, up_checks FROM check_rollups_hourly
           WHERE site_id = s.id AND hour >= (SELECT this_hour FROM w) - interval '23 hours'
             AND hour < (SELECT mark FROM w)
          UNION ALL
          SELECT date_trunc('hour', scheduled_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC',
                 count(*) FILTER (WHERE up IS NOT NULL), count(*) FILTER (WHERE up)
            FROM check_results
           WHERE site_id = s.id
             AND scheduled_at >= greatest((SELECT mark FROM w),
                                          (SELECT this_hour FROM w) - interval '23 hours')
           GROUP BY 1) AS h
     GROUP BY s.id, h.hour
), days AS (
    SELECT s.id, sum(d.checks) AS checks, sum(d.up_checks) AS up_checks
      FROM unnest(%(site_ids)s::bigint[]) AS s(id)
      JOIN check_rollups_daily d
        ON d.site_id = s.id AND d.day >= (now() AT TIME ZONE 'UTC')::date - 29
     GROUP BY s.id
), totals AS (
    SELECT id, sum(up_checks) AS up_checks, sum(checks) AS checks,
           sum(up_checks) FILTER (WHERE hour >= (SELECT today FROM w)) AS up_today,
           sum(checks) FILTER (WHERE hour >= (SELECT today FROM w)) AS checks_today
      FROM hours
     GROUP BY id
), bars AS (
    SELECT s.id, array_agg(h.up_checks::float8 / nullif(h.checks, 0) ORDER BY k DESC) AS bars
      FROM unnest(%(site_ids)s::bigint[]) AS s(id)
     CROSS JOIN generate_series(0, 23) AS k
      LEFT JOIN hours h ON h.id = s.id AND h.hour = (SELECT this_hour FROM w) - k * interval '1 hour'
     GROUP BY s.id
)
-- One pass each over the page's hours (an earlier form ran 27 subqueries per site over
-- them: 55 ms for a page of 50 at 100,000 sites, against a few ms now).
SELECT b.id AS site_id,
       t.up_checks::float8 / nullif(t.checks, 0) AS up_24h,
       (coalesce(d.up_checks, 0) + coalesce(t.up_today, 0))::float8
         / nullif(coalesce(d.checks, 0) + coalesce(t.checks_today, 0), 0) AS up_30d,
       b.bars AS hours
  FROM bars b
  LEFT JOIN totals t ON t.id = b.id
  LEFT JOIN days d ON d.id = b.id

-- daily_uptime --
-- One site's uptime per UTC day over the last %(days)s days, oldest first (NULL: no
-- checks): the daily rollups, and for the days not rolled up yet (today, yesterday) the
-- raw rows of that one site.
SELECT g.day::date AS day, coalesce(d.checks, r.checks) AS checks,
       coalesce(d.up_checks, r.up_checks)::float8 / nullif(coalesce(d.checks, r.checks), 0)
         AS up_share
  FROM generate_series((now() AT TIME ZONE 'UTC')::date - (%(days)s - 1),
                       (now() AT TIME ZONE 'UTC')::date, interval '1 day') AS g(day)
  LEFT JOIN check_rollups_daily d ON d.site_id = %(site_id)s AND d.day = g.day::date
  LEFT JOIN LATERAL (
      SELECT count(*) FILTER (WHERE c.up IS NOT NULL) AS checks,
             count(*) FILTER (WHERE c.up) AS up_checks
        FROM check_results c
       WHERE d.site_id IS NULL
         AND g.day::date >= (SELECT coalesce(days_rolled_to, '-infinity') FROM webmon_rollup_state)
         AND c.site_id = %(site_id)s
         AND c.scheduled_at >= g.day::date::timestamp AT TIME ZONE 'UTC'
         AND c.scheduled_at < (g.day::date + 1)::timestamp AT TIME ZONE 'UTC') AS r ON true
 ORDER BY g.day

-- daily_uptime_by_quorum --
-- A site checked from several regions: its uptime per UTC day over the last %(days)s days,
-- oldest first, by its quorum (webmon_quorum_buckets: its slots with a verdict, each once;
-- NULL: no slot with one, or the day's checks are no longer kept, and so cannot be
-- counted by quorum); beside it, `region_checks` (every region's checks that day, from the
-- daily rollups or, for the days not rolled up yet, the raw rows) and the regions whose own
-- checks that day were not all up, with their own share (`below`, `below_shares`).
WITH w AS (
    SELECT (now() AT TIME ZONE 'UTC')::date - (%(days)s - 1) AS first_day,
           coalesce(days_rolled_to, '-infinity') AS rolled
      FROM webmon_rollup_state
), q AS (
    SELECT (b.bucket AT TIME ZONE 'UTC')::date AS day, b.checks, b.up_checks
      FROM webmon_quorum_buckets(
               %(site_id)s, (SELECT first_day FROM w)::timestamp AT TIME ZONE 'UTC', 'day') b
), r AS (
    SELECT day, region, checks, up_checks FROM check_rollups_daily
     WHERE site_id = %(site_id)s
       AND day >= (SELECT first_day FROM w) AND day < (SELECT rolled FROM w)
    UNION ALL
    SELECT (scheduled_at AT TIME ZONE 'UTC')::date, region,
           count(*) FILTER (WHERE up IS NOT NULL), count(*) FILTER (WHERE up)
      FROM check_results
     WHERE site_id = %(site_id)s
       AND scheduled_at >= (SELECT greatest(first_day, rolled)::timestamp AT TIME ZONE 'UTC'
                              FROM w)
     GROUP BY 1, 2
), by_day AS (
    SELECT day, sum(checks) AS checks,
           array_agg(region ORDER BY region) FILTER (WHERE up_checks < checks) AS below,
           array_agg(up_checks::float8 / checks ORDER BY region)
               FILTER (WHERE up_checks < checks) AS below_shares
      FROM r
     GROUP BY day
)
SELECT g.day::date AS day, q.checks, q.up_checks::float8 / nullif(q.checks, 0) AS up_share,
       coalesce(d.checks, 0)::bigint AS region_checks, coalesce(d.below, '{}') AS below,
       coalesce(d.below_shares, '{}') AS below_shares
  FROM generate_series((SELECT first_day FROM w), (now() AT TIME ZONE 'UTC')::date,
                       interval '1 day') AS g(day)
  LEFT JOIN q ON q.day = g.day::date
  LEFT JOIN by_day d ON d.day = g.day::date
 ORDER BY g.day

-- series_by_quorum --
-- The series of a site checked from several regions, no region asked: its slots per hour
-- or day (%(step)s) counted by its quorum (webmon_quorum_buckets: from the checks still
-- kept; a bucket before them counts nothing and has no uptime), and the response times of
-- every region's checks together (`series` with %(region)s NULL, standing in for its
-- braces below). `first_slot`: the bucket's first slot counted by quorum.
SELECT s.t, coalesce(q.checks, 0)::int AS checks, coalesce(q.up_checks, 0)::int AS up_checks,
       coalesce(q.missed, 0)::int AS missed,
       round(100.0 * q.up_checks / nullif(q.checks, 0), 3)::float8 AS uptime_pct,
       s.avg_ms, s.p50_ms, s.p95_ms, q.first_slot
  FROM ({series}) AS s
  LEFT JOIN webmon_quorum_buckets(%(site_id)s, now() - %(since)s::interval, %(step)s) AS q
    ON q.bucket = s.t
 ORDER BY s.t

-- site_region_count --
-- How many regions a site is checked from; no row: no such site.
SELECT cardinality(regions) AS regions FROM sites WHERE id = %(site_id)s

-- phases_24h --
-- One site's average phase durations per hour over the last day, from the raw checks (the
-- rollups keep response times only): the chart stacks them where the checks measured them.
SELECT date_trunc('hour', scheduled_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS hour,
       avg(dns_ms)::float8 AS dns, avg(connect_ms)::float8 AS connect, avg(tls_ms)::float8 AS tls,
       avg(ttfb_ms)::float8 AS ttfb
  FROM check_results
 WHERE site_id = %(site_id)s AND scheduled_at >= now() - interval '24 hours'
   AND status_code IS NOT NULL
 GROUP BY 1
 ORDER BY 1

-- recent_checks --
-- The last %(per_site)s checks and missed slots of each site of a page, oldest first per
-- site, for the bars of ticks on the overview and a site's page. The raw rows of the last
-- two days only: each site is one index probe per day partition, so a page of 50 sites
-- costs the same at 100,000 sites; a site checked less often than every hour shows fewer
-- ticks (its days are on the site's page).
SELECT s.site_id, r.scheduled_at, r.checked_at, r.up, r.status_code, r.response_time_ms,
       r.regex_matched, r.error, r.error_detail
  FROM unnest(%(site_ids)s::bigint[]) AS s (site_id),
       LATERAL (SELECT c.scheduled_at, c.checked_at, c.up, c.status_code, c.response_time_ms,
                       c.regex_matched, c.error, c.error_detail
                  FROM check_results c
                 WHERE c.site_id = s.site_id AND c.scheduled_at >= now() - interval '2 days'
                 ORDER BY c.scheduled_at DESC
                 LIMIT %(per_site)s) AS r
 ORDER BY s.site_id, r.scheduled_at

-- overview_quorum --
-- The overview's 24 h and 30 d uptime of the sites of a page checked from several regions:
-- by their quorum, as their own page counts it (webmon_quorum_uptime over the same periods),
-- not every region's checks together. Sites checked from one region are not asked here.
SELECT s.id AS site_id,
       d.up_checks::float8 / nullif(d.checks, 0) AS up_24h,
       m.up_checks::float8 / nullif(m.checks, 0) AS up_30d
  FROM unnest(%(site_ids)s::bigint[]) AS s(id)
 CROSS JOIN LATERAL webmon_quorum_uptime(s.id, now() - interval '24 hours') AS d
 CROSS JOIN LATERAL webmon_quorum_uptime(s.id, now() - interval '30 days') AS m

-- recent_slots --
-- The last %(per_site)s slots of each site of a page checked from several regions, oldest
-- first per site, for the bars of ticks: each slot once, with its quorum's verdict
-- (webmon_slot_up over the slot's checks, counted as webmon_quorum_uptime counts them: a
-- check of a region in an outage counts for nothing; NULL: no verdict yet, or none
-- possible), the regions whose check failed, and the regions that checked it. The raw rows
-- of the last two days, as recent_checks.
SELECT s.id AS site_id, v.scheduled_at, v.checked_at, v.up, v.failed_regions,
       v.reported_regions
  FROM sites s
 CROSS JOIN LATERAL (
     SELECT c.scheduled_at, max(c.checked_at) AS checked_at,
            webmon_slot_up(
                (count(*) FILTER (WHERE c.up AND NOT c.out))::integer,
                (count(*) FILTER (WHERE NOT c.up AND NOT c.out))::integer,
                webmon_counting_regions(s.regions, c.scheduled_at),
                (count(*) FILTER (WHERE NOT c.out))::integer,
                webmon_quorum(s.regions, s.quorum)) AS up,
            coalesce(array_agg(c.region ORDER BY c.region) FILTER (WHERE NOT c.up), '{}')
              AS failed_regions,
            coalesce(array_agg(c.region ORDER BY c.region) FILTER (WHERE c.up IS NOT NULL), '{}')
              AS reported_regions
       FROM (SELECT r.scheduled_at, r.checked_at, r.up, r.region,
                    webmon_region_out(r.region, r.scheduled_at) AS out
               FROM check_results r
              WHERE r.site_id = s.id AND r.region = ANY (s.regions)
                AND r.scheduled_at >= (
                    SELECT coalesce(min(l.scheduled_at), now())
                      FROM (SELECT DISTINCT x.scheduled_at FROM check_results x
                             WHERE x.site_id = s.id
                               AND x.scheduled_at >= now() - interval '2 days'
                             ORDER BY x.scheduled_at DESC
                             LIMIT %(per_site)s) AS l)) AS c
      GROUP BY c.scheduled_at
      ORDER BY c.scheduled_at DESC
      LIMIT %(per_site)s) AS v
 WHERE s.id = ANY (%(site_ids)s::bigint[])
 ORDER BY s.id, v.scheduled_at

-- region_chart_checks --
-- One site's performed checks since %(since)s, slot by slot and region by region, oldest
-- first, for a chart of one line per region (at most %(limit)s rows).
SELECT scheduled_at, region, response_time_ms
  FROM (SELECT scheduled_at, region, response_time_ms FROM check_results
         WHERE site_id = %(site_id)s AND scheduled_at >= %(since)s AND up IS NOT NULL
         ORDER BY scheduled_at DESC
         LIMIT %(limit)s) AS r
 ORDER BY scheduled_at, region
