-- Long haul: a year of history for 100,000 sites on one PostgreSQL.
--
-- Raw check_results stay one row per check while a day is recent (the writer inserts there,
-- deduplicating on (site, slot)). Once a day is older than WEBMON_PACK_AFTER_DAYS the
-- maintenance job packs it: one row per (site, day) holding every column as an array, and
-- drops the raw partition. Measured: 133 bytes per check raw (tuple header, item pointer
-- and the primary key index are most of it), 39 packed. The idea is TimescaleDB's
-- compressed chunks ("segment by" site), done with plain arrays and TOAST.
--
-- Hourly and daily rollups are computed from raw rows by the maintenance job once an hour or
-- day has closed; late results mark their hour for a recount (see webmon_rollup_state).
-- Everything old goes by DROP of a whole partition, never by DELETE over results.

-- A range partition of `parent` named `part` for [lo, hi) on column `key`, if missing. Rows
-- of that range already in the parent's default partition are moved into it first.
CREATE FUNCTION webmon_ensure_partition(parent text, part text, key text, lo text, hi text)
RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    stray boolean;
BEGIN
    IF to_regclass(part) IS NOT NULL THEN
        RETURN false;
    END IF;
    EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I WHERE %I >= %L AND %I < %L)',
                   parent || '_default', key, lo, key, hi) INTO stray;
    IF stray THEN
        EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS)', part, parent);
        EXECUTE format('WITH moved AS (DELETE FROM %I WHERE %I >= %L AND %I < %L RETURNING *)'
                       ' INSERT INTO %I SELECT * FROM moved',
                       parent || '_default', key, lo, key, hi, part);
        EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                       parent, part, lo, hi);
    ELSE
        EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
                       part, parent, lo, hi);
    END IF;
    RETURN true;
END
$$;

CREATE OR REPLACE FUNCTION webmon_create_partition(day date) RETURNS boolean
LANGUAGE sql AS $$
    SELECT webmon_ensure_partition(
        'check_results', format('check_results_%s', to_char(day, 'YYYYMMDD')), 'scheduled_at',
        (day::timestamp AT TIME ZONE 'UTC')::text, ((day + 1)::timestamp AT TIME ZONE 'UTC')::text)
$$;

-- An hour's recount reads a time range across all sites; without this it scans the whole
-- day's partition so far (measured at 10 M rows: 4,118 pages and 76 ms for an hour of
-- yesterday, 277 pages and 16 ms with it). 24 kB per day; the writer ~4 % slower.
CREATE INDEX check_results_time_brin ON check_results USING brin (scheduled_at)
    WITH (pages_per_range = 16, autosummarize = on);

-- ---------------------------------------------------------------------------------------
-- Packed days: one row per (site, UTC day), each column an array in slot order.

-- A column whose values are all NULL that day (no TLS on an http site, no regex, no error)
-- is a NULL array: an array header saved per column and row.
CREATE TABLE check_results_packed (
    site_id          bigint NOT NULL,
    day              date NOT NULL,
    checks           integer NOT NULL,
    scheduled_at     timestamptz[] NOT NULL,
    -- checked_at as milliseconds after the slot, real: to the microsecond when a check
    -- started within 16 s of its slot (a check starts at most one interval late).
    checked_after_ms real[] NOT NULL,
    -- real, like the phase columns: ~7 significant digits, 0.001 ms below 10 s.
    response_time_ms real[],
    status_code      smallint[],
    up               boolean[] NOT NULL,
    regex_matched    boolean[],
    error            text[],
    error_detail     text[],
    dns_ms           real[],
    connect_ms       real[],
    tls_ms           real[],
    ttfb_ms          real[],
    redirects        smallint[],
    tls_version      text[],
    tls_expires_at   timestamptz[],
    -- The value every check of the day had (then the array is NULL): the usual case.
    tls_version_all    text,
    tls_expires_at_all timestamptz,
    PRIMARY KEY (site_id, day)
) PARTITION BY RANGE (day);

CREATE TABLE check_results_packed_default PARTITION OF check_results_packed DEFAULT;

-- The columns of check_results in order, as a packed row's arrays unnest them.
CREATE FUNCTION webmon_unpack(p check_results_packed) RETURNS SETOF check_results
LANGUAGE sql IMMUTABLE AS $$
    SELECT p.site_id, u.scheduled_at, u.scheduled_at + u.checked_after_ms * interval '1 ms',
           u.response_time_ms, u.status_code, u.up, u.regex_matched, u.error, u.error_detail,
           u.dns_ms, u.connect_ms, u.tls_ms, u.ttfb_ms, u.redirects,
           coalesce(u.tls_version, p.tls_version_all),
           coalesce(u.tls_expires_at, p.tls_expires_at_all)
      FROM unnest(p.scheduled_at, p.checked_after_ms, p.response_time_ms, p.status_code, p.up,
                  p.regex_matched, p.error, p.error_detail, p.dns_ms, p.connect_ms, p.tls_ms,
                  p.ttfb_ms, p.redirects, p.tls_version, p.tls_expires_at)
           AS u(scheduled_at, checked_after_ms, response_time_ms, status_code, up,
                regex_matched, error, error_detail, dns_ms, connect_ms, tls_ms, ttfb_ms,
                redirects, tls_version, tls_expires_at)
$$;

-- Every result, raw or packed, one row per check. Filter on site_id: it reaches both sides.
-- A result that arrived for an already packed day sits in check_results_default until the
-- next maintenance run folds it in.
CREATE VIEW check_results_all AS
SELECT * FROM check_results
 UNION ALL
SELECT u.* FROM check_results_packed p, webmon_unpack(p) u;

-- The checks of one UTC day, raw and packed, deduplicated on the slot (raw wins); only the
-- given sites unless `sites` is NULL.
CREATE FUNCTION webmon_day_results(d date, sites bigint[] DEFAULT NULL)
RETURNS SETOF check_results LANGUAGE sql STABLE AS $$
    SELECT DISTINCT ON (site_id, scheduled_at)
           site_id, scheduled_at, checked_at, response_time_ms, status_code, up,
           regex_matched, error, error_detail, dns_ms, connect_ms, tls_ms, ttfb_ms,
           redirects, tls_version, tls_expires_at
      FROM (SELECT r.*, 0 AS src
              FROM check_results r
             WHERE r.scheduled_at >= d::timestamp AT TIME ZONE 'UTC'
               AND r.scheduled_at < (d + 1)::timestamp AT TIME ZONE 'UTC'
               AND (sites IS NULL OR r.site_id = ANY(sites))
            UNION ALL
            SELECT u.*, 1
              FROM check_results_packed p, webmon_unpack(p) u
             WHERE p.day = d AND (sites IS NULL OR p.site_id = ANY(sites))) AS both_sides
     ORDER BY site_id, scheduled_at, src
$$;

-- NULL for an array of NULLs.
CREATE FUNCTION webmon_nonnull(a anyarray) RETURNS anyarray
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN cardinality(array_remove(a, NULL)) > 0 THEN a END
$$;

-- Packs day `d` into one row per site and drops its raw partition. When the day was packed
-- before, folds in the late rows of that day that waited in the default partition (only
-- their sites are repacked). Returns the checks packed, NULL when there was nothing to do.
CREATE FUNCTION webmon_pack_day(d date) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    raw text := format('check_results_%s', to_char(d, 'YYYYMMDD'));
    lo timestamptz := d::timestamp AT TIME ZONE 'UTC';
    hi timestamptz := (d + 1)::timestamp AT TIME ZONE 'UTC';
    late bigint[];
    packed bigint;
BEGIN
    IF to_regclass(raw) IS NULL THEN
        late := ARRAY(SELECT DISTINCT site_id FROM check_results_default
                       WHERE scheduled_at >= lo AND scheduled_at < hi);
        IF cardinality(late) = 0 THEN
            RETURN NULL;
        END IF;
    END IF;
    -- No writer may add a row to what is being packed: a late result waits (and is then
    -- stored in the default partition, as for any packed day). SHARE, not ACCESS
    -- EXCLUSIVE: readers (the writer's recounts, dashboards) go on until the final DROP.
    IF to_regclass(raw) IS NOT NULL THEN
        EXECUTE format('LOCK TABLE %I IN SHARE MODE', raw);
    END IF;
    LOCK TABLE check_results_default IN SHARE ROW EXCLUSIVE MODE;
    PERFORM webmon_ensure_partition('check_results_packed',
                                    format('check_results_packed_%s', to_char(d, 'YYYYMMDD')),
                                    'day', d::text, (d + 1)::text);
    CREATE TEMP TABLE webmon_packing ON COMMIT DROP AS
    SELECT site_id, d AS day, count(*)::integer AS checks,
           array_agg(scheduled_at ORDER BY scheduled_at) AS scheduled_at,
           array_agg((extract(epoch FROM checked_at - scheduled_at) * 1000)::real
                     ORDER BY scheduled_at) AS checked_after_ms,
           webmon_nonnull(array_agg(response_time_ms::real ORDER BY scheduled_at)) AS response_time_ms,
           webmon_nonnull(array_agg(status_code ORDER BY scheduled_at)) AS status_code,
           array_agg(up ORDER BY scheduled_at) AS up,
           webmon_nonnull(array_agg(regex_matched ORDER BY scheduled_at)) AS regex_matched,
           webmon_nonnull(array_agg(error ORDER BY scheduled_at)) AS error,
           webmon_nonnull(array_agg(error_detail ORDER BY scheduled_at)) AS error_detail,
           webmon_nonnull(array_agg(dns_ms ORDER BY scheduled_at)) AS dns_ms,
           webmon_nonnull(array_agg(connect_ms ORDER BY scheduled_at)) AS connect_ms,
           webmon_nonnull(array_agg(tls_ms ORDER BY scheduled_at)) AS tls_ms,
           webmon_nonnull(array_agg(ttfb_ms ORDER BY scheduled_at)) AS ttfb_ms,
           webmon_nonnull(array_agg(redirects ORDER BY scheduled_at)) AS redirects,
           CASE WHEN count(tls_version) < count(*) OR min(tls_version) <> max(tls_version)
                THEN webmon_nonnull(array_agg(tls_version ORDER BY scheduled_at))
           END AS tls_version,
           CASE WHEN count(tls_expires_at) < count(*)
                  OR min(tls_expires_at) <> max(tls_expires_at)
                THEN webmon_nonnull(array_agg(tls_expires_at ORDER BY scheduled_at))
           END AS tls_expires_at,
           CASE WHEN count(tls_version) = count(*) AND min(tls_version) = max(tls_version)
                THEN min(tls_version)
           END AS tls_version_all,
           CASE WHEN count(tls_expires_at) = count(*)
                 AND min(tls_expires_at) = max(tls_expires_at)
                THEN min(tls_expires_at)
           END AS tls_expires_at_all
      FROM webmon_day_results(d, late)
     GROUP BY site_id;
    DELETE FROM check_results_packed
     WHERE day = d AND (late IS NULL OR site_id = ANY(late));
    INSERT INTO check_results_packed SELECT * FROM webmon_packing;
    SELECT coalesce(sum(checks), 0) INTO packed FROM webmon_packing;
    DROP TABLE webmon_packing;
    -- Late rows of this day that waited in the default partition are packed now. (Only
    -- stray rows ever live there; the bulk of a day always goes by DROP.)
    DELETE FROM check_results_default WHERE scheduled_at >= lo AND scheduled_at < hi;
    EXECUTE format('DROP TABLE IF EXISTS %I', raw);
    RETURN packed;
END
$$;

-- ---------------------------------------------------------------------------------------
-- Rollups, exact, computed from the raw (or packed) rows of a closed hour or day. Response
-- time statistics count the checks that got a response (status_code IS NOT NULL): a
-- refused connection has no latency worth averaging.

CREATE TABLE check_rollups_hourly (
    site_id     bigint NOT NULL,
    hour        timestamptz NOT NULL,
    checks      integer NOT NULL,
    up_checks   integer NOT NULL,
    rt_min_ms   real,
    rt_avg_ms   real,
    rt_max_ms   real,
    rt_p50_ms   real,
    rt_p95_ms   real,
    PRIMARY KEY (site_id, hour)
) PARTITION BY RANGE (hour);

CREATE TABLE check_rollups_hourly_default PARTITION OF check_rollups_hourly DEFAULT;

CREATE TABLE check_rollups_daily (
    site_id     bigint NOT NULL,
    day         date NOT NULL,
    checks      integer NOT NULL,
    up_checks   integer NOT NULL,
    rt_min_ms   real,
    rt_avg_ms   real,
    rt_max_ms   real,
    rt_p50_ms   real,
    rt_p95_ms   real,
    PRIMARY KEY (site_id, day)
) PARTITION BY RANGE (day);

CREATE TABLE check_rollups_daily_default PARTITION OF check_rollups_daily DEFAULT;

-- Where the rollups stand. Hours before `counted_to` are either rolled up or queued in
-- webmon_rollup_queue: the writer takes this row's advisory lock shared for each batch and
-- queues the hours of results older than `counted_to`; maintenance takes it exclusively
-- only to move `counted_to` (queueing the hours it passes), so a result is either
-- committed before the move or queued. Maintenance then recounts queued hours, each in the
-- transaction that takes it off the queue (a stop or a crash leaves it queued), and moves
-- `rolled_up_to` and `days_rolled_to`, which the queries trust, once the queue is through.
CREATE TABLE webmon_rollup_state (
    singleton      boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    counted_to     timestamptz,
    rolled_up_to   timestamptz,
    days_rolled_to date
);
INSERT INTO webmon_rollup_state DEFAULT VALUES;

CREATE TABLE webmon_rollup_queue (
    hour timestamptz PRIMARY KEY
);

-- Days with a recounted hour, recounted once they have closed.
CREATE TABLE webmon_rollup_day_queue (
    day date PRIMARY KEY
);

CREATE FUNCTION webmon_month_partition(parent text, month date) RETURNS boolean
LANGUAGE sql AS $$
    SELECT webmon_ensure_partition(
        parent, format('%s_%s', parent, to_char(month, 'YYYYMM')),
        CASE parent WHEN 'check_rollups_hourly' THEN 'hour' ELSE 'day' END,
        CASE parent WHEN 'check_rollups_hourly'
             THEN (month::timestamp AT TIME ZONE 'UTC')::text ELSE month::text END,
        CASE parent WHEN 'check_rollups_hourly'
             THEN ((month + interval '1 month')::timestamp AT TIME ZONE 'UTC')::text
             ELSE (month + interval '1 month')::date::text END)
$$;

-- Recounts one hour for every site that has checks in it. Returns the sites rolled up.
CREATE FUNCTION webmon_rollup_hour(h timestamptz) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    n integer;
BEGIN
    PERFORM webmon_month_partition('check_rollups_hourly',
                                   date_trunc('month', h AT TIME ZONE 'UTC')::date);
    DELETE FROM check_rollups_hourly WHERE hour = h;
    INSERT INTO check_rollups_hourly
    SELECT site_id, h, count(*), count(*) FILTER (WHERE up),
           min(rt), avg(rt), max(rt),
           percentile_cont(0.5) WITHIN GROUP (ORDER BY rt),
           percentile_cont(0.95) WITHIN GROUP (ORDER BY rt)
      FROM (SELECT site_id, up,
                   CASE WHEN status_code IS NOT NULL THEN response_time_ms END AS rt
              FROM webmon_hour_results(h)) r
     GROUP BY site_id;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;

-- The checks of one hour, raw and packed (usually only raw: an hour is rolled up minutes
-- after it closes, days before its day is packed). Maintenance folds late rows of packed
-- days into their packed rows before it recounts, so the two sides never overlap here.
CREATE FUNCTION webmon_hour_results(h timestamptz)
RETURNS TABLE (site_id bigint, up boolean, status_code smallint, response_time_ms double precision)
LANGUAGE sql STABLE AS $$
    SELECT r.site_id, r.up, r.status_code, r.response_time_ms
      FROM check_results r
     WHERE r.scheduled_at >= h AND r.scheduled_at < h + interval '1 hour'
    UNION ALL
    SELECT p.site_id, u.up, u.status_code, u.response_time_ms
      FROM check_results_packed p,
           unnest(p.scheduled_at, p.up, p.status_code, p.response_time_ms)
           AS u(scheduled_at, up, status_code, response_time_ms)
     WHERE p.day = (h AT TIME ZONE 'UTC')::date
       AND u.scheduled_at >= h AND u.scheduled_at < h + interval '1 hour'
$$;

-- Recounts one UTC day. Returns the sites rolled up.
CREATE FUNCTION webmon_rollup_day(d date) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    n integer;
BEGIN
    PERFORM webmon_month_partition('check_rollups_daily', date_trunc('month', d)::date);
    DELETE FROM check_rollups_daily WHERE day = d;
    INSERT INTO check_rollups_daily
    SELECT site_id, d, count(*), count(*) FILTER (WHERE up),
           min(rt), avg(rt), max(rt),
           percentile_cont(0.5) WITHIN GROUP (ORDER BY rt),
           percentile_cont(0.95) WITHIN GROUP (ORDER BY rt)
      FROM (SELECT site_id, up,
                   CASE WHEN status_code IS NOT NULL THEN response_time_ms END AS rt
              FROM webmon_day_results(d)) r
     GROUP BY site_id;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;

-- ---------------------------------------------------------------------------------------
-- State changes: one row per flip between up and down, keyed by the slot of the result that
-- caused it. from_up is NULL for a site's first result. The writer keeps it exact under
-- out-of-order arrival by recounting the flips around a late result.

CREATE TABLE site_events (
    site_id      bigint NOT NULL,
    scheduled_at timestamptz NOT NULL,
    checked_at   timestamptz NOT NULL,
    from_up      boolean,
    to_up        boolean NOT NULL,
    status_code  smallint,
    error        text,
    error_detail text,
    PRIMARY KEY (site_id, scheduled_at)
);

-- "The last N state changes" across all sites.
CREATE INDEX site_events_recent_idx ON site_events (scheduled_at DESC);

-- The state a site's latest result replaced, kept by the writer's upsert: it tells the
-- writer, without another lookup, whether the result flipped the site (site_events).
ALTER TABLE site_status
    ADD COLUMN previous_scheduled_at timestamptz,
    ADD COLUMN previous_up boolean;

-- "Which sites are down now": only down sites are in it, and a status update that does not
-- flip `up` stays a HOT update.
CREATE INDEX site_status_down_idx ON site_status (site_id) WHERE NOT up;
