-- Rollups of closed hours and days, exact, from the raw and packed checks, one row per site
-- and region. `checks` counts the checks performed, `missed` the slots recorded as missed
-- (up NULL), which uptime leaves out.

-- The checks of one hour, raw and packed (usually only raw: an hour is rolled up minutes
-- after it closes, days before its day is packed). Maintenance folds late rows of packed
-- days into their packed rows before it recounts, so the two sides never overlap here.
CREATE OR REPLACE FUNCTION webmon_hour_results(h timestamptz)
RETURNS TABLE (site_id bigint, up boolean, status_code smallint, response_time_ms double precision,
               region text)
LANGUAGE sql STABLE AS $$
    SELECT r.site_id, r.up, r.status_code, r.response_time_ms, r.region
      FROM check_results r
     WHERE r.scheduled_at >= h AND r.scheduled_at < h + interval '1 hour'
    UNION ALL
    SELECT p.site_id, u.up, u.status_code, u.response_time_ms, p.region
      FROM check_results_packed p,
           unnest(p.scheduled_at, p.up, p.status_code, p.response_time_ms)
           AS u(scheduled_at, up, status_code, response_time_ms)
     WHERE p.day = (h AT TIME ZONE 'UTC')::date
       AND u.scheduled_at >= h AND u.scheduled_at < h + interval '1 hour'
$$;

-- Recounts one hour for every site that has checks in it. Returns the sites rolled up.
CREATE OR REPLACE FUNCTION webmon_rollup_hour(h timestamptz) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    n integer;
BEGIN
    PERFORM webmon_month_partition('check_rollups_hourly',
                                   date_trunc('month', h AT TIME ZONE 'UTC')::date);
    DELETE FROM check_rollups_hourly WHERE hour = h;
    INSERT INTO check_rollups_hourly (site_id, hour, checks, up_checks, rt_min_ms, rt_avg_ms,
                                      rt_max_ms, rt_p50_ms, rt_p95_ms, missed, region)
    SELECT site_id, h, count(*) FILTER (WHERE up IS NOT NULL), count(*) FILTER (WHERE up),
           min(rt), avg(rt), max(rt),
           percentile_cont(0.5) WITHIN GROUP (ORDER BY rt),
           percentile_cont(0.95) WITHIN GROUP (ORDER BY rt),
           count(*) FILTER (WHERE up IS NULL), region
      FROM (SELECT site_id, region, up,
                   CASE WHEN status_code IS NOT NULL THEN response_time_ms END AS rt
              FROM webmon_hour_results(h)) r
     GROUP BY site_id, region;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;

-- Recounts one UTC day. Returns the sites rolled up.
CREATE OR REPLACE FUNCTION webmon_rollup_day(d date) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    n integer;
BEGIN
    PERFORM webmon_month_partition('check_rollups_daily', date_trunc('month', d)::date);
    DELETE FROM check_rollups_daily WHERE day = d;
    INSERT INTO check_rollups_daily (site_id, day, checks, up_checks, rt_min_ms, rt_avg_ms,
                                     rt_max_ms, rt_p50_ms, rt_p95_ms, missed, region)
    SELECT site_id, d, count(*) FILTER (WHERE up IS NOT NULL), count(*) FILTER (WHERE up),
           min(rt), avg(rt), max(rt),
           percentile_cont(0.5) WITHIN GROUP (ORDER BY rt),
           percentile_cont(0.95) WITHIN GROUP (ORDER BY rt),
           count(*) FILTER (WHERE up IS NULL), region
      FROM (SELECT site_id, region, up,
                   CASE WHEN status_code IS NOT NULL THEN response_time_ms END AS rt
              FROM webmon_day_results(d)) r
     GROUP BY site_id, region;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;
