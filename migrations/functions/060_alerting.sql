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

-- Where a site's incident walk can start again for a result at slot `lo`: the latest up
-- check before it that no incident covers (an incident covers its opening check up to,
-- not including, its resolving one). After such a check the walk's state is known
-- without looking further back: no down streak, no open incident. NULL: walk from the
-- first check. Two looks at most: the latest up check before an incident's first down
-- check is never inside the incident before it.
CREATE OR REPLACE FUNCTION webmon_incident_anchor(site bigint, lo timestamptz)
RETURNS timestamptz LANGUAGE plpgsql STABLE AS $$
DECLARE
    candidate timestamptz;
    covering timestamptz;
BEGIN
    SELECT max(c.scheduled_at) INTO candidate FROM check_results c
     WHERE c.site_id = site AND c.scheduled_at < lo AND c.up;
    IF candidate IS NULL THEN
        RETURN NULL;
    END IF;
    SELECT i.opened_at INTO covering FROM incidents i
     WHERE i.site_id = site AND i.opening_slot <= candidate
       AND (i.resolving_slot IS NULL OR i.resolving_slot > candidate)
     ORDER BY i.opened_at DESC LIMIT 1;
    IF covering IS NULL THEN
        RETURN candidate;
    END IF;
    SELECT max(c.scheduled_at) INTO candidate FROM check_results c
     WHERE c.site_id = site AND c.scheduled_at < covering AND c.up;
    RETURN candidate;
END
$$;
