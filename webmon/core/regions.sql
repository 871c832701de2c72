-- Regions: the statements of webmon.core.regions, loaded once by shared.queries.

-- regions --
-- Every region a site names, a recent check came from, or that has a canary or an outage
-- that lasts, with its enabled sites and what its checkers did over the last `window` (an
-- interval): checks performed, down, slots missed (emitted but not checked in time: the
-- region's checkers absent or behind), and when its latest check started; its canary, and
-- its outage if one lasts. Reads the window's raw rows only (the BRIN index on
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
), outage AS (
    SELECT region, id, started_at, cause, detail FROM region_outages WHERE ended_at IS NULL
), every_region AS (
    SELECT region FROM named
    UNION SELECT region FROM recent
    UNION SELECT region FROM region_canaries
    UNION SELECT region FROM outage
)
SELECT e.region, coalesce(n.sites, 0) AS sites, coalesce(r.checks, 0) AS checks,
       coalesce(r.down, 0) AS down, coalesce(r.missed, 0) AS missed, r.last_check,
       k.site_id AS canary_site_id, cs.url AS canary_url,
       cs.enabled AND e.region = ANY (cs.regions) AS canary_active,
       o.id AS outage_id, o.started_at AS outage_since, o.cause AS outage_cause,
       o.detail AS outage_detail
  FROM every_region e
  LEFT JOIN named n ON n.region = e.region
  LEFT JOIN recent r ON r.region = e.region
  LEFT JOIN region_canaries k ON k.region = e.region
  LEFT JOIN sites cs ON cs.id = k.site_id
  LEFT JOIN outage o ON o.region = e.region
 ORDER BY e.region

-- canary_site --
SELECT id, url, regions, enabled FROM sites WHERE id = %(site_id)s

-- set_canary --
-- Only a site checked from the region (webmon.core.regions.canary_watches says why not).
INSERT INTO region_canaries (region, site_id)
SELECT %(region)s, id FROM sites WHERE id = %(site_id)s AND %(region)s = ANY (regions)
    ON CONFLICT (region) DO UPDATE SET site_id = EXCLUDED.site_id
RETURNING site_id

-- clear_canary --
-- The region's canary goes, and with it an outage its canary opened, which nothing would
-- end any more: it ends now, and its recovery is told (the writer's notification,
-- migrations/functions/090_region_health.sql).
WITH gone AS (
    DELETE FROM region_canaries WHERE region = %(region)s RETURNING site_id
), ended AS (
    UPDATE region_outages
       SET ended_at = greatest(now(), started_at + interval '1 microsecond')
     WHERE region = %(region)s AND ended_at IS NULL AND cause = 'canary'
    RETURNING id, ended_at
)
SELECT (SELECT site_id FROM gone) AS site_id, e.id AS outage_id, e.ended_at,
       CASE WHEN e.id IS NOT NULL
            THEN webmon_queue_region_event(e.id, 'region_up', e.ended_at) END AS queued
  FROM (SELECT 1) AS one
  LEFT JOIN ended e ON true
