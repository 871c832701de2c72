-- Documented queries over the history: rollups, raw rows, site_status and site_events.
-- Statements of webmon.core.history. The README's
-- "History: retention, rollups and queries" section quotes every block as it is here
-- (tests/unit/test_history_queries.py keeps the two in step); bench/bench_volume.py times
-- them on 10 M stored checks.

-- uptime --
-- Uptime of one site over the period that ends now (%(since)s: an interval such as '30 days'):
-- performed checks, up checks, uptime, and the slots missed, which uptime leaves out. Of one
-- region (%(region)s), or of the checks of every region the site is checked from (NULL).
WITH w AS (
    SELECT start, mark, (start AT TIME ZONE 'UTC')::date + 1 AS first_day,
           greatest((start AT TIME ZONE 'UTC')::date + 1, days_rolled_to) AS end_day
      FROM (SELECT now() - %(since)s::interval AS start,
                   coalesce(rolled_up_to, '-infinity') AS mark, days_rolled_to
              FROM webmon_rollup_state) AS state
), parts AS (
    -- whole UTC days, rolled up
    SELECT checks, up_checks, missed FROM check_rollups_daily
     WHERE site_id = %(site_id)s AND (%(region)s::text IS NULL OR region = %(region)s)
       AND day >= (SELECT first_day FROM w) AND day < (SELECT end_day FROM w)
    UNION ALL
    -- the whole hours before them, and those after them up to the mark
    SELECT checks, up_checks, missed FROM check_rollups_hourly
     WHERE site_id = %(site_id)s AND (%(region)s::text IS NULL OR region = %(region)s)
       AND hour >= (SELECT start FROM w)
       AND hour < (SELECT least(first_day::timestamp AT TIME ZONE 'UTC', mark) FROM w)
    UNION ALL
    SELECT checks, up_checks, missed FROM check_rollups_hourly
     WHERE site_id = %(site_id)s AND (%(region)s::text IS NULL OR region = %(region)s)
       AND hour >= (SELECT end_day::timestamp AT TIME ZONE 'UTC' FROM w)
       AND hour < (SELECT mark FROM w)
    UNION ALL
    -- raw rows since the mark (a missed slot, up NULL, is no check)
    SELECT count(*) FILTER (WHERE up IS NOT NULL), count(*) FILTER (WHERE up),
           count(*) FILTER (WHERE up IS NULL) FROM check_results
     WHERE site_id = %(site_id)s AND (%(region)s::text IS NULL OR region = %(region)s)
       AND scheduled_at >= (SELECT greatest(start, mark) FROM w)
)
SELECT sum(checks) AS checks, sum(up_checks) AS up_checks,
       round(100.0 * sum(up_checks) / nullif(sum(checks), 0), 3) AS uptime_pct,
       sum(missed) AS missed
  FROM parts

-- uptime_by_quorum --
-- Uptime of a site checked from several regions over the period that ends now (%(since)s),
-- by its quorum: its slots, each once, by the quorum's verdict (webmon_slot_up over the
-- slot's checks; a check made during its region's outage counts for nothing): the slots
-- with a verdict, those up, uptime, the slots without one, and the first slot counted
-- (from the checks still kept, raw and packed: later than the period's start when the
-- period reaches past them).
SELECT checks, up_checks, round(100.0 * up_checks / nullif(checks, 0), 3) AS uptime_pct,
       missed, first_slot AS quorum_from
  FROM webmon_quorum_uptime(%(site_id)s, now() - %(since)s::interval)

-- p95_per_day --
-- One site's checks, uptime and response times per UTC day and region, the last %(days)s
-- days.
SELECT day, region, checks, round(100.0 * up_checks / nullif(checks, 0), 3) AS uptime_pct,
       rt_p50_ms, rt_p95_ms, rt_avg_ms
  FROM check_rollups_daily
 WHERE site_id = %(site_id)s AND day >= (now() AT TIME ZONE 'UTC')::date - %(days)s::integer
 ORDER BY day DESC, region

-- down_now --
-- The sites that are down now: since when (their latest state change) and why.
SELECT st.site_id, st.url, coalesce(e.checked_at, st.checked_at) AS down_since,
       st.status_code, st.error, st.error_detail
  FROM site_status st
  LEFT JOIN LATERAL (SELECT checked_at FROM site_events
                      WHERE site_id = st.site_id
                      ORDER BY scheduled_at DESC LIMIT 1) AS e ON true
 WHERE NOT st.up
 ORDER BY down_since, st.site_id

-- recent_events --
-- The last %(limit)s state changes across all sites, newest first.
SELECT e.scheduled_at, e.site_id, s.url, e.from_up, e.to_up, e.status_code, e.error,
       e.error_detail
  FROM site_events e
  LEFT JOIN sites s ON s.id = e.site_id
 ORDER BY e.scheduled_at DESC
 LIMIT %(limit)s

-- site_events_of_site --
-- The last %(limit)s state changes of one site, newest first.
SELECT scheduled_at, checked_at, from_up, to_up, status_code, error, error_detail
  FROM site_events
 WHERE site_id = %(site_id)s
 ORDER BY scheduled_at DESC
 LIMIT %(limit)s

-- slowest_now --
-- The %(limit)s up sites with the slowest latest response.
SELECT site_id, url, response_time_ms, status_code, checked_at
  FROM site_status
 WHERE up
 ORDER BY response_time_ms DESC NULLS LAST
 LIMIT %(limit)s
