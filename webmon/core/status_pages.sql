-- Status pages and the incidents told on them: the statements of webmon.core.status_pages.
-- A public page is read with a fixed number of statements whatever its number of sites
-- (`page_sites`, `page_days`, `page_site_incidents`, `page_incidents`), sent in one
-- pipelined round trip.

-- pages --
-- Every page, or the one of a slug, with its groups in order.
SELECT p.id, p.slug, p.title, p.description, p.logo_url, p.days_shown, p.show_urls,
       p.created_at, p.updated_at,
       coalesce((SELECT json_agg(json_build_object('name', g.name, 'site_ids', g.site_ids,
                                                   'tag', g.tag) ORDER BY g.position)
                   FROM status_page_groups g WHERE g.page_id = p.id), '[]') AS groups
  FROM status_pages p
 WHERE %(slug)s::text IS NULL OR p.slug = %(slug)s
 ORDER BY p.slug

-- add_page --
INSERT INTO status_pages (slug, title, description, logo_url, days_shown, show_urls)
VALUES (%(slug)s, %(title)s, %(description)s, %(logo_url)s, %(days_shown)s, %(show_urls)s)
RETURNING id

-- change_page --
UPDATE status_pages
   SET slug = %(slug)s, title = %(title)s, description = %(description)s,
       logo_url = %(logo_url)s, days_shown = %(days_shown)s, show_urls = %(show_urls)s,
       updated_at = now()
 WHERE id = %(page_id)s
RETURNING id

-- remove_page --
DELETE FROM status_pages WHERE slug = %(slug)s RETURNING id

-- clear_groups --
DELETE FROM status_page_groups WHERE page_id = %(page_id)s

-- add_groups --
-- A page's groups from a JSON array of {name, site_ids, tag}, in its order.
INSERT INTO status_page_groups (page_id, position, name, site_ids, tag)
SELECT %(page_id)s, g.n - 1, g.value->>'name',
       ARRAY(SELECT jsonb_array_elements_text(coalesce(g.value->'site_ids', '[]'))::bigint),
       g.value->>'tag'
  FROM jsonb_array_elements(%(groups)s::jsonb) WITH ORDINALITY AS g(value, n)

-- missing_sites --
-- The ids of a list that name no site.
SELECT id FROM unnest(%(site_ids)s::bigint[]) AS x(id)
 WHERE NOT EXISTS (SELECT 1 FROM sites s WHERE s.id = x.id)
 ORDER BY id

-- page_sites --
-- The enabled sites of a page's groups, group by group: those named one by one in their
-- order, then those carrying the group's tag by name (a `key:value` tag, or a key alone,
-- which takes the bare key and every value of it, as the overview's filter does); each
-- with its latest state.
WITH members AS (
    SELECT g.position, m.site_id, m.ord
      FROM status_page_groups g
     CROSS JOIN LATERAL unnest(g.site_ids) WITH ORDINALITY AS m(site_id, ord)
     WHERE g.page_id = %(page_id)s
    UNION ALL
    SELECT g.position, s.id, NULL
      FROM status_page_groups g
      JOIN sites s ON webmon_tags_match(s.tags, g.tag)
     WHERE g.page_id = %(page_id)s AND g.tag IS NOT NULL
), one AS (
    SELECT DISTINCT ON (position, site_id) position, site_id, ord
      FROM members
     ORDER BY position, site_id, ord NULLS LAST
)
SELECT o.position AS group_position, s.id, s.name, s.url, st.up, st.checked_at,
       cardinality(s.regions) AS regions
  FROM one o
  JOIN sites s ON s.id = o.site_id AND s.enabled
  LEFT JOIN site_status st ON st.site_id = s.id
 ORDER BY o.position, o.ord NULLS LAST, coalesce(s.name, s.url), s.id

-- page_days --
-- Checks and up checks per site and UTC day over the last %(days)s days, for a list of
-- sites (those checked from one region: `page_quorum_days` counts the others), in one
-- statement: the daily rollups for the days rolled up, the hourly rollups
-- for the hours after them up to the rollup mark, and the raw rows since the mark. Days
-- without checks have no row.
WITH w AS (
    SELECT coalesce(rolled_up_to, '-infinity') AS mark,
           coalesce(days_rolled_to, '-infinity'::date) AS rolled_days,
           (now() AT TIME ZONE 'UTC')::date - (%(days)s::integer - 1) AS first_day
      FROM webmon_rollup_state
), parts AS (
    SELECT site_id, day, checks, up_checks
      FROM check_rollups_daily
     WHERE site_id = ANY(%(site_ids)s::bigint[])
       AND day >= (SELECT first_day FROM w) AND day < (SELECT rolled_days FROM w)
    UNION ALL
    SELECT site_id, (hour AT TIME ZONE 'UTC')::date, checks, up_checks
      FROM check_rollups_hourly
     WHERE site_id = ANY(%(site_ids)s::bigint[])
       AND hour >= (SELECT greatest(first_day, rolled_days)::timestamp AT TIME ZONE 'UTC' FROM w)
       AND hour < (SELECT mark FROM w)
    UNION ALL
    SELECT site_id, (scheduled_at AT TIME ZONE 'UTC')::date,
           count(*) FILTER (WHERE up IS NOT NULL), count(*) FILTER (WHERE up)
      FROM check_results
     WHERE site_id = ANY(%(site_ids)s::bigint[])
       AND scheduled_at >= (SELECT greatest(mark, greatest(first_day, rolled_days)::timestamp
                                                  AT TIME ZONE 'UTC') FROM w)
     GROUP BY 1, 2
)
SELECT site_id, day, sum(checks)::bigint AS checks, sum(up_checks)::bigint AS up_checks
  FROM parts
 GROUP BY site_id, day

-- page_quorum_days --
-- Slots with a verdict and those up per site and UTC day over the last %(days)s days, of a
-- page's sites checked from several regions (%(site_ids)s): by their quorum, as their own
-- page counts them (webmon_quorum_buckets from the first day shown), not every region's
-- checks together; in the shape of `page_days`. From the checks kept, raw and packed: a
-- day before them has no row (the rollups count each region apart). Asked only for a page
-- holding such sites.
SELECT s.id AS site_id, (q.bucket AT TIME ZONE 'UTC')::date AS day, q.checks, q.up_checks
  FROM unnest(%(site_ids)s::bigint[]) AS s(id)
 CROSS JOIN LATERAL webmon_quorum_buckets(
     s.id, ((now() AT TIME ZONE 'UTC')::date - (%(days)s::integer - 1))::timestamp
             AT TIME ZONE 'UTC', 'day') AS q

-- page_site_incidents --
-- What happened to each site of a list per UTC day over the last %(days)s days: the
-- incidents detected (their cause) and those the page told (their title).
SELECT site_id, day, array_agg(label ORDER BY at) AS labels
  FROM (SELECT i.site_id, (i.opened_at AT TIME ZONE 'UTC')::date AS day, i.opened_at AS at,
               'Down: ' || i.cause AS label
          FROM incidents i
         WHERE i.site_id = ANY(%(site_ids)s::bigint[])
           AND i.opened_at >= ((now() AT TIME ZONE 'UTC')::date - (%(days)s::integer - 1))
                              ::timestamp AT TIME ZONE 'UTC'
        UNION ALL
        SELECT x.site_id, (p.opened_at AT TIME ZONE 'UTC')::date, p.opened_at, p.title
          FROM status_page_incidents p
         CROSS JOIN LATERAL unnest(p.site_ids) AS x(site_id)
         WHERE p.page_id = %(page_id)s
           AND p.opened_at >= ((now() AT TIME ZONE 'UTC')::date - (%(days)s::integer - 1))
                              ::timestamp AT TIME ZONE 'UTC') AS t
 GROUP BY site_id, day

-- page_incidents --
-- A page's incidents, newest first, each with its updates newest first; one incident if
-- %(incident_id)s is given.
SELECT p.id, p.title, p.status, p.site_ids, p.incident_id, p.postmortem, p.opened_at,
       p.resolved_at, p.updated_at,
       coalesce((SELECT json_agg(json_build_object('id', u.id, 'status', u.status,
                                                   'body', u.body, 'posted_at', u.posted_at)
                                 ORDER BY u.posted_at DESC, u.id DESC)
                   FROM status_page_updates u WHERE u.incident_id = p.id), '[]') AS updates
  FROM status_page_incidents p
 WHERE p.page_id = %(page_id)s
   AND (%(incident_id)s::bigint IS NULL OR p.id = %(incident_id)s)
 ORDER BY p.resolved_at IS NULL DESC, p.opened_at DESC, p.id DESC
 LIMIT %(limit)s

-- detected_incident --
-- A detected incident, to open a page's incident from.
SELECT i.id, i.site_id, i.cause, i.opened_at, i.resolved_at, coalesce(s.name, s.url) AS site
  FROM incidents i JOIN sites s ON s.id = i.site_id
 WHERE i.id = %(incident_id)s

-- open_incident --
-- A page's incident and its first update, in one statement.
WITH i AS (
    INSERT INTO status_page_incidents (page_id, title, status, site_ids, incident_id,
                                       resolved_at)
    VALUES (%(page_id)s, %(title)s, %(status)s, %(site_ids)s, %(incident_id)s,
            CASE WHEN %(status)s = 'resolved' THEN now() END)
    RETURNING id
)
INSERT INTO status_page_updates (incident_id, status, body)
SELECT id, %(status)s, %(body)s FROM i
RETURNING incident_id AS id

-- post_update --
-- An update of an open incident: its status becomes the incident's.
WITH i AS (
    UPDATE status_page_incidents
       SET status = %(status)s, updated_at = now(),
           resolved_at = CASE WHEN %(status)s = 'resolved' THEN now() END
     WHERE id = %(incident_id)s AND page_id = %(page_id)s AND resolved_at IS NULL
    RETURNING id
)
INSERT INTO status_page_updates (incident_id, status, body)
SELECT id, %(status)s, %(body)s FROM i
RETURNING id

-- incident_state --
SELECT id, resolved_at FROM status_page_incidents
 WHERE id = %(incident_id)s AND page_id = %(page_id)s

-- change_incident --
UPDATE status_page_incidents
   SET title = %(title)s, site_ids = %(site_ids)s, postmortem = %(postmortem)s,
       updated_at = now()
 WHERE id = %(incident_id)s AND page_id = %(page_id)s
RETURNING id

-- remove_incident --
DELETE FROM status_page_incidents WHERE id = %(incident_id)s AND page_id = %(page_id)s
RETURNING id

-- public_sites --
-- The sites of the default page (/status): those marked public, enabled, by id; in the
-- shape of `page_sites`.
SELECT 0 AS group_position, s.id, s.name, s.url, st.up, st.checked_at,
       cardinality(s.regions) AS regions
  FROM sites s
  LEFT JOIN site_status st ON st.site_id = s.id
 WHERE s.public AND s.enabled
 ORDER BY s.id
 LIMIT 500
