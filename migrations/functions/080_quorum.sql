-- The quorum: a slot's state from its regions' checks (docs/regions.md).
--
-- The rule is here once. The writer's incident walk, the site's state, the uptime by
-- quorum and the advisory all ask these functions, so no two readers can disagree about
-- whether a slot was down.

-- How many of a site's regions must see a slot down: its own quorum, else a majority.
CREATE OR REPLACE FUNCTION webmon_quorum(regions text[], quorum integer) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(quorum, cardinality(regions) / 2 + 1)
$$;

-- Whether an outage of `region` covers the slot `at`: its checks then count for nothing.
CREATE OR REPLACE FUNCTION webmon_region_out(region text, at timestamptz) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT EXISTS (
        SELECT 1 FROM region_outages o
         WHERE o.region = webmon_region_out.region AND o.started_at <= at
           AND (o.ended_at IS NULL OR at < o.ended_at))
$$;

-- How many of `regions` count at the slot `at`: those in no outage.
CREATE OR REPLACE FUNCTION webmon_counting_regions(regions text[], at timestamptz)
RETURNS integer LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT count(*)::integer FROM unnest(regions) AS r WHERE NOT webmon_region_out(r, at)
$$;

-- A slot's state by quorum. `ups`, `downs`: the performed checks that count (a region in
-- an outage counts for nothing); `counting`: the site's regions that count at the slot;
-- `reported`: how many of those have a row for it (a check or a missed slot); `quorum`:
-- the site's (webmon_quorum), never more than the regions that count.
--   false (down): at least the quorum saw it down;
--   true (up): the downs can no longer reach the quorum, and some region saw it up;
--   NULL: it can still go either way (a region has not reported), or no region that
--   counts checked it (every one missed it or is in an outage): no verdict, like a
--   missed slot.
-- One region (counting 1, quorum 1) gives the check's own `up`.
CREATE OR REPLACE FUNCTION webmon_slot_up(
    ups integer, downs integer, counting integer, reported integer, quorum integer
) RETURNS boolean LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN counting < 1 THEN NULL
        WHEN downs >= least(quorum, counting) THEN false
        WHEN ups > 0 AND downs + (counting - reported) < least(quorum, counting) THEN true
    END
$$;
