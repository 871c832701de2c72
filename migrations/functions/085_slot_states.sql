-- A site's state slot by slot, from its stored checks, by quorum (webmon_slot_up in
-- 080_quorum.sql): what the writer's site_status, site_events and incidents follow
-- (docs/regions.md, "Quorum"). Everything that asks "was this site down at that slot"
-- over several regions asks these.

-- A stored slot's state: `up` as webmon_slot_up says (NULL: no verdict); `was`, the state
-- it had without the rows of the regions `fresh` (the writer's: before the batch that
-- stored them); `region`, the check that stands for the slot (the first by check time,
-- then region name, of the counting checks that saw it as the verdict says: its status,
-- error and timings are the slot's); `down_regions`, for a down state, the counting
-- regions that saw it down (NULL for a site of one region: its own check is the verdict).
-- The checks that count are the rows, performed or missed, of the regions the site is
-- checked from that no outage covers at the slot (webmon_region_out), and the regions
-- that count, webmon_counting_regions'. Both functions are asked only where an outage of
-- one of the site's regions has not ended before the slot (`maybe_out`): elsewhere every
-- region counts, and asking costs ~70 us a slot, more than storing its rows.
-- (A set-returning function of one SELECT, so that the planner inlines it where it is
-- called in a FROM clause: called per slot, a function it cannot inline costs ~0.5 ms.)
-- The writer decides a batch's slots with the same count in one statement
-- (checker/writer/queries.sql, quorum_states); tests/alerting/test_quorum.py's
-- test_the_writers_states_are_the_readers_states holds the two to one result.
CREATE OR REPLACE FUNCTION webmon_slot_verdict(
    site bigint, at timestamptz, fresh text[] DEFAULT '{}'
) RETURNS TABLE (up boolean, was boolean, region text, down_regions text[])
LANGUAGE sql STABLE AS $$
    SELECT v.up, v.was,
           CASE WHEN v.up THEN t.first_up WHEN NOT v.up THEN t.first_down END,
           CASE WHEN q.several AND NOT v.up THEN t.down_regions END
      FROM (SELECT s.regions, s.quorum FROM sites s WHERE s.id = site OFFSET 0) x
     CROSS JOIN LATERAL (
            SELECT ARRAY(SELECT o.region FROM region_outages o
                          WHERE o.region = ANY (x.regions)
                            AND (o.ended_at IS NULL OR o.ended_at > at)) AS maybe_out
            OFFSET 0) m
     CROSS JOIN LATERAL (
            SELECT CASE WHEN cardinality(m.maybe_out) = 0 THEN cardinality(x.regions)
                        ELSE webmon_counting_regions(x.regions, at) END AS counting,
                   webmon_quorum(x.regions, x.quorum) AS quorum,
                   cardinality(x.regions) > 1 AS several
            OFFSET 0) q
     CROSS JOIN LATERAL (
            SELECT count(*) FILTER (WHERE k.up)::integer AS ups,
                   count(*) FILTER (WHERE NOT k.up)::integer AS downs,
                   count(*)::integer AS reported,
                   count(*) FILTER (WHERE k.up AND NOT k.region = ANY (fresh))::integer
                       AS old_ups,
                   count(*) FILTER (WHERE NOT k.up AND NOT k.region = ANY (fresh))::integer
                       AS old_downs,
                   count(*) FILTER (WHERE NOT k.region = ANY (fresh))::integer AS old_reported,
                   (array_agg(k.region ORDER BY k.checked_at, k.region)
                        FILTER (WHERE k.up))[1] AS first_up,
                   (array_agg(k.region ORDER BY k.checked_at, k.region)
                        FILTER (WHERE NOT k.up))[1] AS first_down,
                   array_agg(k.region ORDER BY k.region) FILTER (WHERE NOT k.up) AS down_regions
              FROM check_results k
             WHERE k.site_id = site AND k.scheduled_at = at AND k.region = ANY (x.regions)
               AND NOT (k.region = ANY (m.maybe_out) AND webmon_region_out(k.region, at))) t
     CROSS JOIN LATERAL (
            SELECT webmon_slot_up(t.ups, t.downs, q.counting, t.reported, q.quorum) AS up,
                   webmon_slot_up(t.old_ups, t.old_downs, q.counting, t.old_reported, q.quorum)
                       AS was
            OFFSET 0) v
$$;

-- The one region of a site whose states from `since` on are that region's checks
-- themselves: it is checked from one region, and no outage of that region lasted past
-- `since`. NULL otherwise: its states are the quorum's (webmon_site_states). Readers
-- take the plain rows where they can: the usual site costs what it cost before quorums.
CREATE OR REPLACE FUNCTION webmon_plain_region(site bigint, since timestamptz)
RETURNS text LANGUAGE sql STABLE AS $$
    SELECT s.regions[1]
      FROM sites s
     WHERE s.id = site AND cardinality(s.regions) = 1
       AND NOT EXISTS (SELECT 1 FROM region_outages o
                        WHERE o.region = s.regions[1]
                          AND (o.ended_at IS NULL OR o.ended_at > since))
$$;

-- A site's states in slot order, from `lo` to `hi` (both included): each stored slot
-- with a verdict, and the region of the check that stands for it.
CREATE OR REPLACE FUNCTION webmon_site_states(site bigint, lo timestamptz, hi timestamptz)
RETURNS TABLE (scheduled_at timestamptz, up boolean, region text, down_regions text[])
LANGUAGE sql STABLE AS $$
    SELECT t.slot, v.up, v.region, v.down_regions
      FROM (SELECT DISTINCT c.scheduled_at AS slot FROM check_results c
             WHERE c.site_id = site AND c.scheduled_at >= lo AND c.scheduled_at <= hi
               AND c.up IS NOT NULL) t
     CROSS JOIN LATERAL webmon_slot_verdict(site, t.slot) v
     WHERE v.up IS NOT NULL
     ORDER BY t.slot
$$;

-- Where a site's incident walk can start again before a late slot `lo` that no incident
-- covers: the latest slot before it whose state is up, or the latest resolving check
-- before it, whichever is later (webmon_clean_anchor's rule over states instead of
-- checks). NULL: walk from the first slot.
CREATE OR REPLACE FUNCTION webmon_state_anchor(site bigint, lo timestamptz)
RETURNS timestamptz LANGUAGE sql STABLE AS $$
    SELECT greatest(
        (SELECT c.scheduled_at FROM check_results c
          WHERE c.site_id = site AND c.scheduled_at < lo AND c.up
            AND (SELECT v.up FROM webmon_slot_verdict(site, c.scheduled_at) v)
          ORDER BY c.scheduled_at DESC
          LIMIT 1),
        (SELECT max(i.resolving_slot) FROM incidents i
          WHERE i.site_id = site AND i.resolving_slot < lo))
$$;

-- The latest slot before `lo` with a verdict (NULL: none): where a recount of a site's
-- flips starts.
CREATE OR REPLACE FUNCTION webmon_state_before(site bigint, lo timestamptz)
RETURNS timestamptz LANGUAGE sql STABLE AS $$
    SELECT c.scheduled_at FROM check_results c
     WHERE c.site_id = site AND c.scheduled_at < lo AND c.up IS NOT NULL
       AND (SELECT v.up FROM webmon_slot_verdict(site, c.scheduled_at) v) IS NOT NULL
     ORDER BY c.scheduled_at DESC
     LIMIT 1
$$;

-- The earliest slot after `hi` with a verdict (NULL: none).
CREATE OR REPLACE FUNCTION webmon_state_after(site bigint, hi timestamptz)
RETURNS timestamptz LANGUAGE sql STABLE AS $$
    SELECT c.scheduled_at FROM check_results c
     WHERE c.site_id = site AND c.scheduled_at > hi AND c.up IS NOT NULL
       AND (SELECT v.up FROM webmon_slot_verdict(site, c.scheduled_at) v) IS NOT NULL
     ORDER BY c.scheduled_at
     LIMIT 1
$$;
