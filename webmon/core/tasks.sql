-- On-demand check tasks: the statements of webmon.core.tasks, which accepts and shows them
-- for the API, the dashboard and the CLI. The scheduler emits them (scheduler/queries.sql)
-- and the result writer moves their status on (checker/writer/queries.sql).

-- task_by_idempotency_key --
-- The first task of the submission that used the key (only the first keeps it).
SELECT task_id, name, url, regex, timeout_seconds, method, headers,
       coalesce(request_id, task_id) AS request_id
  FROM tasks
 WHERE key_id = %(key_id)s AND idempotency_key = %(idempotency_key)s

-- request_tasks --
-- The tasks of one submission, one per region.
SELECT task_id, region
  FROM tasks
 WHERE request_id = %(request_id)s OR task_id = %(request_id)s

-- region_named --
-- Whether a site is checked from %(region)s: the scan stops at the first.
SELECT EXISTS (SELECT 1 FROM sites WHERE %(region)s::text = ANY(regions))

-- known_regions --
-- The regions a task of a URL may be checked from: those the sites are checked from, by
-- name (the default region alone before any site exists).
SELECT coalesce(array_agg(DISTINCT region ORDER BY region), '{default}') AS regions
  FROM sites, unnest(regions) AS region

-- task_counts --
-- Tasks not final yet, and those submitted in the last minute, of one API key or one
-- dashboard user (the other is NULL), with when the oldest of those leaves the minute. The
-- transaction-scoped lock on the submitter makes its concurrent submissions count each
-- other.
SELECT pg_advisory_xact_lock(%(lock_class)s, %(lock_id)s::integer),
       (SELECT count(*) FROM tasks
         WHERE status < 3 AND (key_id = %(key_id)s OR user_id = %(user_id)s)),
       (SELECT count(*) FROM tasks
         WHERE (key_id = %(key_id)s OR user_id = %(user_id)s)
           AND created_at > now() - interval '1 minute'),
       (SELECT extract(epoch FROM min(created_at) + interval '1 minute' - now())::float8
          FROM tasks
         WHERE (key_id = %(key_id)s OR user_id = %(user_id)s)
           AND created_at > now() - interval '1 minute')

-- create_tasks --
-- The tasks of one submission, one per region (%(task_ids)s and %(regions)s side by side):
-- each names the first as its request, and only the first keeps the Idempotency-Key.
INSERT INTO tasks (task_id, key_id, user_id, name, url, regex, timeout_seconds, method,
                   headers, expires_at, idempotency_key, site_id, region, request_id,
                   restricted)
SELECT t.task_id, %(key_id)s::bigint, %(user_id)s::bigint, %(name)s::text, %(url)s::text,
       %(regex)s::text, %(timeout_seconds)s::float8, %(method)s::text, %(headers)s::jsonb,
       now() + %(start_within)s::interval,
       CASE WHEN t.task_id = %(request_id)s::uuid THEN %(idempotency_key)s::text END,
       %(site_id)s::bigint, t.region, %(request_id)s::uuid, %(restricted)s::boolean
  FROM unnest(%(task_ids)s::uuid[], %(regions)s::text[]) AS t(task_id, region)

-- get_task --
SELECT task_id, name, url, region, coalesce(request_id, task_id) AS request_id, status,
       created_at, started_at, finished_at, result
  FROM tasks
 WHERE task_id = %(task_id)s

-- list_tasks --
-- Newest first, after a cursor (created_at, task_id), of one status if asked.
SELECT task_id, name, url, region, coalesce(request_id, task_id) AS request_id, status,
       created_at, started_at, finished_at, result
  FROM tasks
 WHERE (created_at, task_id) < (%(before_at)s, %(before_id)s)
   AND (%(status)s::smallint IS NULL OR status = %(status)s)
 ORDER BY created_at DESC, task_id DESC
 LIMIT %(limit)s

-- latest_site_tasks --
-- The latest "check now" of a site (tasks submitted for it), for its page: the tasks of
-- that submission, one per region.
WITH latest AS (
    SELECT coalesce(request_id, task_id) AS id
      FROM tasks
     WHERE site_id = %(site_id)s
     ORDER BY created_at DESC
     LIMIT 1
)
SELECT t.task_id, t.name, t.url, t.region, l.id AS request_id, t.status, t.created_at,
       t.started_at, t.finished_at, t.result
  FROM latest l
  JOIN tasks t ON t.request_id = l.id OR t.task_id = l.id
 ORDER BY t.region
