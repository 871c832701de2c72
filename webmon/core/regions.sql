-- Regions: the statements of webmon.core.regions, loaded once by shared.queries.

-- regions --
-- Every region a site names or a recent check came from, with its enabled sites and what
-- its checkers did over the last %(window)s (an interval): checks performed, down, slots
-- missed (emitted but not checked in time: the region's checkers absent or behind), and
-- when its latest check started. Reads the window's raw rows only (the BRIN index on
-- scheduled_at finds them).
WITH named AS (
    SELECT region, count(*) AS sites
      FROM sites, unnest(regions) AS region
     WHERE enabled
     GROUP BY region
), recent AS (
    SELECT region,
           count(*) FILTER (WHERE up IS NOT NULL) AS checks,
           count(*) FILTER (WHERE NOT up) AS down,
           count(*) FILTER (WHERE up IS NULL) AS missed,
           max(checked_at) FILTER (WHERE up IS NOT NULL) AS last_check
      FROM check_results
     WHERE scheduled_at >= now() - %(window)s::interval
     GROUP BY region
)
SELECT region, coalesce(n.sites, 0) AS sites, coalesce(r.checks, 0) AS checks,
       coalesce(r.down, 0) AS down, coalesce(r.missed, 0) AS missed, r.last_check
  FROM named n
  FULL JOIN recent r USING (region)
 ORDER BY region
