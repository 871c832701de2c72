-- Reading a site by its quorum (docs/regions.md): its uptime counted slot by slot, and the
-- region below the quorum. Both ask the quorum's own functions (080_quorum.sql) for every
-- verdict. The readers (webmon/core/history.sql's uptime, webmon/core/sites.sql's site
-- JSON, webmon/core/site_regions.sql) ask these.

-- The uptime by quorum of a site checked from several regions, from `since` to now, per
-- UTC hour or day (`step`: 'hour' or 'day'): its slots, each once, by webmon_slot_up over
-- the slot's checks and missed slots from the site's regions (a check of a region in an
-- outage counts for nothing): `checks` the slots with a verdict, `up_checks` those up,
-- `missed` those without one, `first_slot` the first slot counted; a bucket without a kept
-- slot has no row. From the checks still kept, raw and packed (the rollups count each
-- region apart, and cannot say which regions failed together), so a period reaching past
-- the packed days is counted from the oldest kept slot on.
--
-- The outage functions are asked only where an outage could answer: for the checks of a
-- region with an outage reaching into the period, and the slots between the first such
-- outage's start and the last one's end. Elsewhere no outage covers a slot, and every
-- region counts as it does where none can (webmon_counting_regions at -infinity).
CREATE OR REPLACE FUNCTION webmon_quorum_buckets(of_site bigint, since timestamptz, step text)
RETURNS TABLE (bucket timestamptz, checks bigint, up_checks bigint, missed bigint,
               first_slot timestamptz)
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    WITH site AS (
        SELECT s.regions, webmon_quorum(s.regions, s.quorum) AS quorum
          FROM sites s WHERE s.id = of_site
    ), outages AS (
        SELECT array_agg(o.region) AS regions, min(o.started_at) AS first_start,
               max(coalesce(o.ended_at, 'infinity')) AS last_end,
               (SELECT webmon_counting_regions(site.regions, '-infinity') FROM site) AS every
          FROM region_outages o, site
         WHERE o.region = ANY (site.regions) AND (o.ended_at IS NULL OR o.ended_at > since)
    ), kept AS (
        SELECT r.scheduled_at AS slot, r.up, r.region FROM check_results r
         WHERE r.site_id = of_site AND r.scheduled_at >= since
        UNION ALL
        SELECT u.slot, u.up, p.region
          FROM check_results_packed p, unnest(p.scheduled_at, p.up) AS u(slot, up)
         WHERE p.site_id = of_site AND p.day >= (since AT TIME ZONE 'UTC')::date
           AND u.slot >= since
    ), counted AS (
        SELECT k.slot, k.up,
               CASE WHEN k.region = ANY (o.regions) AND k.slot >= o.first_start
                         AND k.slot < o.last_end
                    THEN webmon_region_out(k.region, k.slot) ELSE false END AS out
          FROM kept k, site, outages o
         WHERE k.region = ANY (site.regions)
    ), slots AS (
        SELECT c.slot,
               webmon_slot_up(
                   (count(*) FILTER (WHERE c.up AND NOT c.out))::integer,
                   (count(*) FILTER (WHERE NOT c.up AND NOT c.out))::integer,
                   CASE WHEN c.slot >= (SELECT first_start FROM outages)
                             AND c.slot < (SELECT last_end FROM outages)
                        THEN webmon_counting_regions((SELECT regions FROM site), c.slot)
                        ELSE (SELECT every FROM outages) END,
                   (count(*) FILTER (WHERE NOT c.out))::integer,
                   (SELECT quorum FROM site)) AS up
          FROM counted c
         GROUP BY c.slot
    )
    SELECT date_trunc(step, v.slot AT TIME ZONE 'UTC') AT TIME ZONE 'UTC',
           count(v.up), count(*) FILTER (WHERE v.up), count(*) FILTER (WHERE v.up IS NULL),
           min(v.slot)
      FROM slots v
     GROUP BY 1
     ORDER BY 1;
END
$$;

-- The uptime by quorum of a site checked from several regions, from `since` to now: its
-- buckets' (webmon_quorum_buckets) added up, so that the period's figure and its days'
-- never disagree.
CREATE OR REPLACE FUNCTION webmon_quorum_uptime(of_site bigint, since timestamptz)
RETURNS TABLE (checks bigint, up_checks bigint, missed bigint, first_slot timestamptz)
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    SELECT coalesce(sum(b.checks), 0)::bigint, coalesce(sum(b.up_checks), 0)::bigint,
           coalesce(sum(b.missed), 0)::bigint, min(b.first_slot)
      FROM webmon_quorum_buckets(of_site, since, 'day') b;
END
$$;

-- The current run of down checks of one region of a site, when it is at least `threshold`
-- long: its first slot (`since`) and its length (`failures`); no row otherwise. The checks
-- that count are the region's performed checks (a missed slot is no check: it neither
-- lengthens nor breaks a run) made while the region was in no outage (webmon_region_out:
-- those say nothing about the path to the site). Raw days only: a run that began before
-- them starts, as far as this says, at the oldest raw check.
--
-- Cheap when the region is fine: the latest `threshold` checks that count are read first
-- (a few index entries), and only when every one of them is down is the run measured, back
-- to the region's latest up check.
CREATE OR REPLACE FUNCTION webmon_region_run(of_site bigint, of_region text, threshold integer)
RETURNS TABLE (since timestamptz, failures integer) LANGUAGE sql STABLE AS $$
    SELECT min(c.scheduled_at), count(*)::integer
      FROM check_results c
     WHERE threshold <= (SELECT count(*) FILTER (WHERE NOT latest.up)
                           FROM (SELECT l.up FROM check_results l
                                  WHERE l.site_id = of_site AND l.region = of_region
                                    AND l.up IS NOT NULL
                                    AND NOT webmon_region_out(l.region, l.scheduled_at)
                                  ORDER BY l.scheduled_at DESC
                                  LIMIT threshold) AS latest)
       AND c.site_id = of_site AND c.region = of_region AND NOT c.up
       AND NOT webmon_region_out(c.region, c.scheduled_at)
       AND c.scheduled_at > coalesce(
               (SELECT max(u.scheduled_at) FROM check_results u
                 WHERE u.site_id = of_site AND u.region = of_region AND u.up
                   AND NOT webmon_region_out(u.region, u.scheduled_at)),
               '-infinity')
    HAVING count(*) >= threshold
$$;

-- The advisories of one site, in the order of its regions: one per region whose current
-- run of down checks (webmon_region_run) reaches the site's failure_threshold, while the
-- site's state (site_status.up, which follows the quorum) is up. None for a site checked
-- from one region, a disabled site, a site down (its incident says more), or a region in
-- an outage now (the region's own news, told once for all its sites). PL/pgSQL, so that
-- a statement calling it for a few sites of many (a page of the site list) does not
-- prepare its scans unless it asks.
CREATE OR REPLACE FUNCTION webmon_advisories(of_site bigint)
RETURNS TABLE (region text, since timestamptz, failures integer) LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    SELECT r.region, run.since, run.failures
      FROM sites s
      JOIN site_status st ON st.site_id = s.id AND st.up
     CROSS JOIN LATERAL unnest(s.regions) WITH ORDINALITY AS r(region, n)
     CROSS JOIN LATERAL webmon_region_run(s.id, r.region, s.failure_threshold) AS run
     WHERE s.id = of_site AND s.enabled AND cardinality(s.regions) > 1
       AND NOT webmon_region_out(r.region, now())
     ORDER BY r.n;
END
$$;
