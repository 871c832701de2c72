-- Named queries of the scheduler, loaded once by shared.queries.load_queries.

-- claim_due --
-- Claims up to a batch of due sites and advances each to its next slot on the site's own
-- grid (next_check_at + k * interval, the smallest k that lands in the future): no drift,
-- and one task for a site that was overdue by many intervals. The claimed slot is the
-- grid point just before the new next_check_at. `id = ANY(ARRAY(...))` keeps the planner
-- on the primary key; `id IN (...)` flipped to a full scan at large batches (MEASUREMENTS.md).
-- A site's method, headers and expected statuses come back NULL when they are the defaults,
-- which the task leaves out; expected statuses as [low, high) pairs.
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
          END AS expected_status

-- due_backlog --
SELECT count(*) FROM sites WHERE enabled AND next_check_at <= now()

-- ensure_partitions --
-- Only one scheduler does maintenance at a time; the others skip it.
SELECT CASE WHEN pg_try_advisory_xact_lock(%(lock_key)s)
            THEN webmon_ensure_partitions((now() AT TIME ZONE 'UTC')::date, %(days)s)
       END
