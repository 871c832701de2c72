-- The web dashboard's queries (webmon/web): users and their sessions, the secret that signs
-- them, and the overview's per-site extras. Sites, history and tasks come from the other
-- files of the read model.

-- secret --
-- The dashboard's signing key: the first process that asks makes it, every later one
-- reads the same.
WITH made AS (
    INSERT INTO webmon_secrets (name, secret) VALUES (%(name)s, %(candidate)s)
        ON CONFLICT (name) DO NOTHING
    RETURNING secret
)
SELECT secret FROM made
 UNION ALL
SELECT secret FROM webmon_secrets WHERE name = %(name)s
 LIMIT 1

-- add_user --
INSERT INTO users (name, password_hash) VALUES (%(name)s, %(password_hash)s)
    ON CONFLICT (name) DO UPDATE SET password_hash = EXCLUDED.password_hash, disabled_at = NULL
RETURNING id

-- user_by_name --
SELECT id, name, password_hash FROM users WHERE name = %(name)s AND disabled_at IS NULL

-- user_by_id --
SELECT id, name FROM users WHERE id = %(user_id)s AND disabled_at IS NULL

-- rehash_user --
UPDATE users SET password_hash = %(password_hash)s WHERE id = %(user_id)s

-- create_login_link --
INSERT INTO login_links (sha256, user_id, expires_at)
     VALUES (%(sha256)s, %(user_id)s, now() + %(valid_for)s::interval)

-- use_login_link --
-- A link works once, before it expires.
UPDATE login_links SET used_at = now()
 WHERE sha256 = %(sha256)s AND used_at IS NULL AND expires_at > now()
RETURNING user_id

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
SELECT b.id,
       t.up_checks::float8 / nullif(t.checks, 0),
       (coalesce(d.up_checks, 0) + coalesce(t.up_today, 0))::float8
         / nullif(coalesce(d.checks, 0) + coalesce(t.checks_today, 0), 0),
       b.bars
  FROM bars b
  LEFT JOIN totals t ON t.id = b.id
  LEFT JOIN days d ON d.id = b.id

-- daily_uptime --
-- One site's uptime per UTC day over the last %(days)s days, oldest first (NULL: no
-- checks): the daily rollups, and for the days not rolled up yet (today, yesterday) the
-- raw rows of that one site.
SELECT g.day::date, coalesce(d.checks, r.checks),
       coalesce(d.up_checks, r.up_checks)::float8 / nullif(coalesce(d.checks, r.checks), 0)
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

-- public_sites --
-- The sites on the public status page, with their state.
SELECT s.id, s.url, st.up, st.checked_at
  FROM sites s
  LEFT JOIN site_status st ON st.site_id = s.id
 WHERE s.public AND s.enabled
 ORDER BY s.id
 LIMIT 500

-- set_public --
UPDATE sites SET public = %(public)s WHERE id = %(site_id)s RETURNING id

-- phases_24h --
-- One site's average phase durations per hour over the last day, from the raw checks (the
-- rollups keep response times only): the chart stacks them where the checks measured them.
SELECT date_trunc('hour', scheduled_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC',
       avg(dns_ms)::float8, avg(connect_ms)::float8, avg(tls_ms)::float8, avg(ttfb_ms)::float8
  FROM check_results
 WHERE site_id = %(site_id)s AND scheduled_at >= now() - interval '24 hours'
   AND status_code IS NOT NULL
 GROUP BY 1
 ORDER BY 1

-- down_now_page --
-- The sites down now, as the overview shows them: since when and why (with the regex's
-- verdict, for a site down because its page lacked the pattern).
SELECT st.site_id, st.url, coalesce(e.checked_at, st.checked_at) AS down_since,
       st.status_code, st.error, st.error_detail, st.regex_matched
  FROM site_status st
  LEFT JOIN LATERAL (SELECT checked_at FROM site_events
                      WHERE site_id = st.site_id
                      ORDER BY scheduled_at DESC LIMIT 1) AS e ON true
 WHERE NOT st.up
 ORDER BY down_since, st.site_id
 LIMIT 100
