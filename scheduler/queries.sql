-- Named queries of the scheduler, loaded once by shared.queries.load_queries.

-- claim_due --
-- Claims up to a batch of due sites and advances each to its next slot on the site's own
-- grid (next_check_at + k * interval, the smallest k that lands in the future): no drift,
-- and one task for a site that was overdue by many intervals. The claimed slot is the
-- grid point just before the new next_check_at. `id = ANY(ARRAY(...))` keeps the planner
-- on the primary key; `id IN (...)` flipped to a full scan at large batches (docs/measurements.md).
-- A site's method, headers, expected statuses, redirect limit and HTTP options come back
-- NULL when they are the defaults, which the task leaves out; expected statuses as
-- [low, high) pairs. `restricted` was missing here before migration 0013, so a site
-- registered through the API was checked without the target policy.
-- The columns are claimed_task's arguments (scheduler/service.py), in its order.
UPDATE sites
   SET next_check_at = next_check_at
       + (floor(extract(epoch FROM now() - next_check_at) / interval_seconds) + 1)
         * interval_seconds * interval '1 second'
 WHERE id = ANY(ARRAY(
           SELECT id
             FROM sites
            WHERE enabled AND next_check_at <= now()
            ORDER BY next_check_at
            LIMIT %(batch_size)s
              FOR UPDATE SKIP LOCKED))
RETURNING id,
          url,
          timeout_seconds,
          regex,
          next_check_at - interval_seconds * interval '1 second' AS scheduled_at,
          next_check_at AS expires_at,
          NULLIF(method, 'GET') AS method,
          NULLIF(headers, '{}') AS headers,
          CASE WHEN expected_status <> '{[200,400)}'
               THEN ARRAY(SELECT ARRAY[lower(r), upper(r)] FROM unnest(expected_status) AS r)
          END AS expected_status,
          max_redirects,
          restricted,
          -- The per-site HTTP options that are not the defaults (claimed_task passes them
          -- on by name), NULL for a plain site: one cheap test per row.
          CASE WHEN body IS NOT NULL OR proxy IS NOT NULL OR tls_ca_file IS NOT NULL
                    OR tls_cert_file IS NOT NULL OR NOT tls_verify
                    OR tls_server_name IS NOT NULL OR ip_version IS NOT NULL OR require_tls
                    OR header_name IS NOT NULL OR regex_mode <> 'match'
               THEN jsonb_strip_nulls(jsonb_build_object(
                        'body', body, 'body_content_type', body_content_type,
                        'proxy', proxy, 'tls_ca_file', tls_ca_file,
                        'tls_cert_file', tls_cert_file, 'tls_key_file', tls_key_file,
                        'tls_verify', CASE WHEN NOT tls_verify THEN false END,
                        'tls_server_name', tls_server_name, 'ip_version', ip_version,
                        'require_tls', CASE WHEN require_tls THEN true END,
                        'header_name', header_name, 'header_regex', header_regex,
                        'header_mode', NULLIF(header_mode, 'match'),
                        'regex_mode', NULLIF(regex_mode, 'match')))
          END AS options,
          -- The site's credentials, sealed: passed through, never opened here.
          (SELECT jsonb_build_object('kind', a.kind, 'username', a.username,
                                     'sealed', translate(encode(a.sealed, 'base64'), E'\n', ''))
             FROM site_auth a WHERE a.site_id = sites.id) AS auth,
          -- The regions to check from, NULL for the default region alone (one task, to the
          -- tasks topic, as before regions); otherwise a task per region, to its topic.
          NULLIF(regions, '{default}') AS regions

-- due_backlog --
SELECT count(*) FROM sites WHERE enabled AND next_check_at <= now()

-- maintenance_lock --
SELECT pg_try_advisory_lock(%(lock_key)s)

-- maintenance_unlock --
SELECT pg_advisory_unlock(%(lock_key)s)

-- create_partitions --
SELECT webmon_ensure_partitions((%(now)s AT TIME ZONE 'UTC')::date, %(days)s)

-- partitions --
-- The partitions of one table with their names; the bounds are in the names.
SELECT c.relname
  FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
 WHERE i.inhparent = %(parent)s::regclass

-- late_days --
-- Days with results waiting in the default partition that is not today's or later.
SELECT DISTINCT (scheduled_at AT TIME ZONE 'UTC')::date
  FROM check_results_default
 WHERE scheduled_at < %(before)s

-- adopt_day --
-- A past day whose rows wait in the default partition and that was never packed (results
-- written while maintenance could not run, or imported): its partition, which moves its
-- rows in. From then on it is a raw day like any other: rolled up, packed, dropped in turn.
SELECT webmon_create_partition(%(day)s::date)

-- queue_day_hours --
-- After adopt_day, in its transaction: a recount of the hours of the day's rows that the
-- rollup mark has passed, whichever way the rows came.
INSERT INTO webmon_rollup_queue (hour)
SELECT DISTINCT date_trunc('hour', r.scheduled_at, 'UTC')
  FROM check_results r, webmon_rollup_state s
 WHERE r.scheduled_at >= %(day)s::date::timestamp AT TIME ZONE 'UTC'
   AND r.scheduled_at < (%(day)s::date + 1)::timestamp AT TIME ZONE 'UTC'
   AND r.scheduled_at < s.counted_to
    ON CONFLICT (hour) DO UPDATE SET hour = EXCLUDED.hour

-- rollup_lock --
-- Waits for the writers' batches in flight and keeps new ones out until the mark has moved:
-- a writer's batch is either committed before (the recount will see it) or starts after
-- (it sees the new mark and queues its late hours).
SELECT pg_advisory_xact_lock(%(lock_key)s)

-- rollup_state --
SELECT counted_to, rolled_up_to, days_rolled_to FROM webmon_rollup_state

-- first_result --
SELECT min(scheduled_at) FROM check_results

-- count_up_to --
-- Queues every hour from the old mark to the new one, and moves the mark.
WITH queued AS (
    INSERT INTO webmon_rollup_queue (hour)
    SELECT generate_series(%(old)s::timestamptz, %(new)s::timestamptz - interval '1 hour',
                           interval '1 hour')
        ON CONFLICT (hour) DO NOTHING
)
UPDATE webmon_rollup_state SET counted_to = %(new)s

-- queued_hours --
SELECT hour FROM webmon_rollup_queue WHERE hour < %(mark)s ORDER BY hour

-- take_hour --
-- Waits for a writer that is queueing this hour right now (its row lock), so the recount
-- that follows in this transaction sees that writer's rows.
DELETE FROM webmon_rollup_queue WHERE hour = %(hour)s

-- rollup_hour --
WITH day AS (
    INSERT INTO webmon_rollup_day_queue (day)
    VALUES ((%(hour)s::timestamptz AT TIME ZONE 'UTC')::date)
        ON CONFLICT (day) DO NOTHING
)
SELECT webmon_rollup_hour(%(hour)s)

-- queued_days --
SELECT day FROM webmon_rollup_day_queue WHERE day < %(before)s ORDER BY day

-- take_day --
DELETE FROM webmon_rollup_day_queue WHERE day = %(day)s

-- rollup_day --
SELECT webmon_rollup_day(%(day)s)

-- rolled_up --
-- What the queries may trust: hours (days) up to the first one still queued. Hours that
-- were queued again by a late result keep their earlier counts meanwhile, so they do not
-- hold the mark back.
UPDATE webmon_rollup_state
   SET rolled_up_to = least(counted_to, coalesce(
           (SELECT min(hour) FROM webmon_rollup_queue
             WHERE hour >= coalesce(rolled_up_to, '-infinity')), counted_to)),
       days_rolled_to = least((counted_to AT TIME ZONE 'UTC')::date, coalesce(
           (SELECT min(day) FROM webmon_rollup_day_queue
             WHERE day >= coalesce(days_rolled_to, '-infinity')),
           (counted_to AT TIME ZONE 'UTC')::date))
RETURNING rolled_up_to, days_rolled_to

-- day_pending --
-- Whether a day still has hours or itself queued for a recount.
SELECT EXISTS (SELECT 1 FROM webmon_rollup_queue
                WHERE hour >= %(day)s::date::timestamp AT TIME ZONE 'UTC'
                  AND hour < (%(day)s::date + 1)::timestamp AT TIME ZONE 'UTC')
    OR EXISTS (SELECT 1 FROM webmon_rollup_day_queue WHERE day = %(day)s)

-- pack_day --
SELECT webmon_pack_day(%(day)s)

-- delete_stray_results --
-- Rows older than the retention that sat in the default partition (a result that arrived
-- after its day was dropped). Only strays ever live there; days go by DROP.
DELETE FROM check_results_default WHERE scheduled_at < %(before)s

-- delete_old_events --
DELETE FROM site_events WHERE scheduled_at < %(before)s

-- delete_old_tasks --
-- On-demand tasks finished before the retention (WEBMON_TASK_RETENTION_DAYS).
DELETE FROM tasks WHERE finished_at < %(before)s

-- next_due_in --
-- Seconds until the earliest enabled site is due (negative: overdue; NULL: none), from the
-- first entry of the claim's index, on the database's clock.
SELECT extract(epoch FROM min(next_check_at) - now())::float8 FROM sites WHERE enabled

-- shortest_interval --
-- How often the busiest site is checked: the claim loop's looks are a twentieth of it apart.
SELECT min(interval_seconds) FROM sites WHERE enabled

-- listen_for_sites --
LISTEN webmon_sites

-- listen_for_tasks --
LISTEN webmon_tasks

-- expire_tasks --
-- On-demand tasks that will not be performed end as ERROR, so that none stays NEW or
-- PROCESSING: one accepted but not emitted before it expired (no scheduler ran), or one
-- emitted that still has no result well after it expired (the checker that had it died).
UPDATE tasks
   SET status = 4, finished_at = now(),
       result = jsonb_build_object(
           'up', false, 'error', 'expired', 'error_detail',
           CASE WHEN emitted_at IS NULL
                THEN 'not started in time: no scheduler emitted it before it expired'
                ELSE 'no result from a checker in time' END)
 WHERE status < 3 AND expires_at < now()
   AND (emitted_at IS NULL
        OR expires_at + make_interval(secs => timeout_seconds + %(grace_s)s) < now())

-- claim_tasks --
-- Accepted tasks not yet emitted, oldest first, locked like claimed sites: committed only
-- once Kafka acknowledged their messages, rolled back (and emitted again) otherwise. Each
-- goes to its region's on-demand topic.
UPDATE tasks
   SET emitted_at = now()
 WHERE task_id = ANY(ARRAY(
           SELECT task_id
             FROM tasks
            WHERE status = 1 AND emitted_at IS NULL
            ORDER BY created_at
            LIMIT %(batch_size)s
              FOR UPDATE SKIP LOCKED))
RETURNING task_id, url, timeout_seconds, regex, created_at, expires_at, method, headers,
          region, restricted
