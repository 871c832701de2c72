-- On-demand check tasks: the statements of webmon.core.tasks, which accepts and shows them
-- for the API, the dashboard and the CLI. The scheduler emits them (scheduler/queries.sql)
-- and the result writer moves their status on (checker/writer/queries.sql).

-- task_by_idempotency_key --
SELECT task_id, name, url, regex, timeout_seconds, method, headers
  FROM tasks
 WHERE key_id = %(key_id)s AND idempotency_key = %(idempotency_key)s

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

-- create_task --
INSERT INTO tasks (task_id, key_id, user_id, name, url, regex, timeout_seconds, method,
                   headers, expires_at, idempotency_key, site_id)
     VALUES (%(task_id)s, %(key_id)s, %(user_id)s, %(name)s, %(url)s, %(regex)s,
             %(timeout_seconds)s, %(method)s, %(headers)s, now() + %(start_within)s::interval,
             %(idempotency_key)s, %(site_id)s)

-- get_task --
SELECT task_id, name, url, status, created_at, started_at, finished_at, result
  FROM tasks
 WHERE task_id = %(task_id)s

-- list_tasks --
-- Newest first, after a cursor (created_at, task_id), of one status if asked.
SELECT task_id, name, url, status, created_at, started_at, finished_at, result
  FROM tasks
 WHERE (created_at, task_id) < (%(before_at)s, %(before_id)s)
   AND (%(status)s::smallint IS NULL OR status = %(status)s)
 ORDER BY created_at DESC, task_id DESC
 LIMIT %(limit)s

-- latest_site_task --
-- The latest "check now" of a site (a task submitted for it), for its page.
SELECT task_id, name, url, status, created_at, started_at, finished_at, result
  FROM tasks
 WHERE site_id = %(site_id)s
 ORDER BY created_at DESC
 LIMIT 1
