-- Packed days: unpacking, the view of raw and packed checks, and packing.

-- The columns of check_results in order, as a packed row's arrays unnest them.
CREATE OR REPLACE FUNCTION webmon_unpack(p check_results_packed) RETURNS SETOF check_results
LANGUAGE sql IMMUTABLE AS $$
    SELECT p.site_id, u.scheduled_at, u.scheduled_at + u.checked_after_ms * interval '1 ms',
           u.response_time_ms, u.status_code, u.up, u.regex_matched, u.error, u.error_detail,
           u.dns_ms, u.connect_ms, u.tls_ms, u.ttfb_ms, u.redirects,
           coalesce(u.tls_version, p.tls_version_all),
           coalesce(u.tls_expires_at, p.tls_expires_at_all), p.region
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
CREATE OR REPLACE VIEW check_results_all AS
SELECT * FROM check_results
 UNION ALL
SELECT u.* FROM check_results_packed p, webmon_unpack(p) u;

-- The checks of one UTC day, raw and packed, deduplicated on the check's identity (site,
-- slot, region; raw wins); only the given sites unless `sites` is NULL.
CREATE OR REPLACE FUNCTION webmon_day_results(d date, sites bigint[] DEFAULT NULL)
RETURNS SETOF check_results LANGUAGE sql STABLE AS $$
    SELECT DISTINCT ON (site_id, scheduled_at, region)
           site_id, scheduled_at, checked_at, response_time_ms, status_code, up,
           regex_matched, error, error_detail, dns_ms, connect_ms, tls_ms, ttfb_ms,
           redirects, tls_version, tls_expires_at, region
      FROM (SELECT r.*, 0 AS src
              FROM check_results r
             WHERE r.scheduled_at >= d::timestamp AT TIME ZONE 'UTC'
               AND r.scheduled_at < (d + 1)::timestamp AT TIME ZONE 'UTC'
               AND (sites IS NULL OR r.site_id = ANY(sites))
            UNION ALL
            SELECT u.*, 1
              FROM check_results_packed p, webmon_unpack(p) u
             WHERE p.day = d AND (sites IS NULL OR p.site_id = ANY(sites))) AS both_sides
     ORDER BY site_id, scheduled_at, region, src
$$;

-- NULL for an array of NULLs.
CREATE OR REPLACE FUNCTION webmon_nonnull(a anyarray) RETURNS anyarray
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN cardinality(array_remove(a, NULL)) > 0 THEN a END
$$;

-- Packs day `d` into one row per site and region and drops its raw partition. When the day was packed
-- before, folds in the late rows of that day that waited in the default partition (only
-- their sites are repacked). Returns the checks packed, NULL when there was nothing to do.
CREATE OR REPLACE FUNCTION webmon_pack_day(d date) RETURNS bigint LANGUAGE plpgsql AS $$
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
           END AS tls_expires_at_all,
           region
      FROM webmon_day_results(d, late)
     GROUP BY site_id, region;
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
