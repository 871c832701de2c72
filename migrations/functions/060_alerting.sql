-- Alerting's functions: maintenance windows, routing, and the incident walk's anchor.

-- Whether a window (one-off, or repeating every day or week from `starts_at`, no
-- occurrence starting after `until`) covers the moment `at`.
CREATE OR REPLACE FUNCTION webmon_window_covers(
    starts_at timestamptz, duration_seconds integer, recurrence text, until timestamptz,
    at timestamptz
) RETURNS boolean LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT at >= starts_at AND CASE recurrence
        WHEN 'none' THEN at < starts_at + make_interval(secs => duration_seconds)
        ELSE (WITH o AS (
                  SELECT mod(extract(epoch FROM at - starts_at),
                             CASE recurrence WHEN 'daily' THEN 86400 ELSE 604800 END) AS offset_s)
              SELECT o.offset_s < duration_seconds
                     AND (until IS NULL OR at - make_interval(secs => o.offset_s) <= until)
                FROM o)
    END
$$;

-- Whether a maintenance window covers site `site` at `at`: one of its own, one of a tag
-- it has, or one for all sites.
CREATE OR REPLACE FUNCTION webmon_in_maintenance(site bigint, at timestamptz) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT EXISTS (
        SELECT 1 FROM maintenance_windows w
         WHERE (w.site_id = site
                OR (w.site_id IS NULL AND w.tag IS NULL)
                OR (w.tag IS NOT NULL
                    AND EXISTS (SELECT 1 FROM sites s WHERE s.id = site AND w.tag = ANY (s.tags))))
           AND webmon_window_covers(w.starts_at, w.duration_seconds, w.recurrence, w.until, at))
$$;

-- The channels a site notifies: its own routing if it has any, else every default channel.
CREATE OR REPLACE FUNCTION webmon_routes(site bigint) RETURNS SETOF bigint
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT c.id FROM site_channels sc JOIN channels c ON c.id = sc.channel_id
     WHERE sc.site_id = site AND c.enabled
    UNION ALL
    SELECT c.id FROM channels c
     WHERE c.is_default AND c.enabled
       AND NOT EXISTS (SELECT 1 FROM site_channels sc WHERE sc.site_id = site)
$$;

-- Where a site's incident walk can start again, for a result at slot `lo` that no
-- incident covers (the writer looks for a covering one first: its opening check is a
-- start too, with the incident open): the latest moment before `lo` after which the walk's
-- state is known to be clean, no down streak and nothing open. That is the latest up
-- check before it (an incident covering that check would cover `lo`, or have resolved
-- before it) or the latest resolving check before it, whichever is later: a resolving
-- check's raw row may be gone (packed), its incident says where it was. NULL: walk from
-- the first check.
CREATE OR REPLACE FUNCTION webmon_clean_anchor(site bigint, lo timestamptz)
RETURNS timestamptz LANGUAGE sql STABLE AS $$
    SELECT greatest(
        (SELECT max(c.scheduled_at) FROM check_results c
          WHERE c.site_id = site AND c.scheduled_at < lo AND c.up),
        (SELECT max(i.resolving_slot) FROM incidents i
          WHERE i.site_id = site AND i.resolving_slot < lo))
$$;
