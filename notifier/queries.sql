-- Named queries of the notifier (notifier/service.py), loaded once by
-- shared.queries.load_queries. Each block is the whole statement that runs.

-- claim --
-- Due notifications of channels this notifier has room for, at most `per_channel` of
-- each: locked rows another replica is claiming are skipped (the scheduler's pattern).
-- The claim is a lease: `next_attempt_at` moves to its end, so a notifier that dies
-- leaves them due again once it expires. Each claim counts as an attempt.
WITH due AS (
    SELECT id, channel_id FROM notifications
     WHERE state = 'pending' AND next_attempt_at <= now()
       AND NOT (channel_id = ANY(%(busy)s::bigint[]))
     ORDER BY next_attempt_at
     LIMIT %(scan)s
       FOR UPDATE SKIP LOCKED
), ranked AS (
    SELECT id, row_number() OVER (PARTITION BY channel_id ORDER BY id) AS n FROM due
), claimed AS (
    UPDATE notifications n
       SET claimed_by = %(me)s,
           claimed_until = now() + make_interval(secs => %(lease_s)s),
           next_attempt_at = now() + make_interval(secs => %(lease_s)s),
           attempts = n.attempts + 1
      FROM ranked r
     WHERE n.id = r.id AND r.n <= %(per_channel)s
 RETURNING n.*
)
SELECT c.id, c.idempotency_key, c.kind, c.event_at, c.attempts, c.created_at,
       ch.id, ch.name, ch.kind, ch.config, ch.secret, ch.secret_sealed,
       c.site_id, s.url,
       i.id, i.opened_at, i.opening_checked_at, i.resolved_at, i.resolving_checked_at,
       i.cause, i.status_code, i.error, i.error_detail, s.cert_expiry_days,
       o.id, o.region, o.started_at, o.ended_at, o.cause, o.detail, cs.url, i.regions
  FROM claimed c
  JOIN channels ch ON ch.id = c.channel_id
  LEFT JOIN sites s ON s.id = c.site_id
  LEFT JOIN incidents i ON i.id = c.incident_id
  -- A region's outage (region_down, region_up) and its canary now, if it has one.
  LEFT JOIN region_outages o ON o.id = c.region_outage_id
  LEFT JOIN region_canaries k ON k.region = o.region
  LEFT JOIN sites cs ON cs.id = k.site_id

-- mark_sent --
-- Only after the channel accepted it. (If the lease expired meanwhile and another
-- notifier sent it too, the receiver got it twice, with one idempotency key.)
UPDATE notifications
   SET state = 'sent', sent_at = now(), claimed_by = NULL, claimed_until = NULL,
       last_error = NULL
 WHERE id = ANY(%(ids)s::bigint[]) AND state = 'pending'
RETURNING id, created_at

-- retry_later --
UPDATE notifications n
   SET claimed_by = NULL, claimed_until = NULL, last_error = r.error,
       next_attempt_at = now() + make_interval(secs => r.delay_s)
  FROM unnest(%(ids)s::bigint[], %(delays)s::float8[], %(errors)s::text[])
       AS r(id, delay_s, error)
 WHERE n.id = r.id AND n.state = 'pending' AND n.claimed_by = %(me)s

-- mark_failed --
UPDATE notifications n
   SET state = 'failed', claimed_by = NULL, claimed_until = NULL, last_error = r.error
  FROM unnest(%(ids)s::bigint[], %(errors)s::text[]) AS r(id, error)
 WHERE n.id = r.id AND n.state = 'pending' AND n.claimed_by = %(me)s

-- release --
-- On stop: what this notifier holds and did not send is due again at once, and the claim
-- does not count as an attempt.
UPDATE notifications
   SET claimed_by = NULL, claimed_until = NULL, next_attempt_at = now(),
       attempts = greatest(attempts - 1, 0)
 WHERE id = ANY(%(ids)s::bigint[]) AND state = 'pending' AND claimed_by = %(me)s

-- release_held --
-- A DOWN held by a maintenance window goes out once the site is out of every window and
-- the incident is still open (a RESOLVED queued while it was held stays held: the DOWN
-- of an incident that ended inside the window was never sent).
UPDATE notifications n
   SET state = 'pending', next_attempt_at = now()
  FROM incidents i
 WHERE n.state = 'suppressed' AND n.kind = 'down' AND i.id = n.incident_id
   AND i.resolved_at IS NULL AND NOT webmon_in_maintenance(n.site_id, now())
RETURNING n.id, n.site_id

-- queue_reminders --
-- For each open incident of a site with a reminder interval, one reminder per interval
-- it has been open, keyed by its number: several notifiers queue it once.
INSERT INTO notifications (idempotency_key, channel_id, site_id, incident_id, kind, event_at)
SELECT 'incident-' || i.id || '-reminder-' || r.n, ch.channel_id, i.site_id, i.id,
       'reminder', now()
  FROM incidents i
  JOIN sites s ON s.id = i.site_id
 CROSS JOIN LATERAL (SELECT floor(extract(epoch FROM now() - i.opening_checked_at)
                                  / s.reminder_interval_seconds)::bigint AS n) r
 CROSS JOIN LATERAL webmon_routes(i.site_id) AS ch(channel_id)
 WHERE i.resolved_at IS NULL AND s.reminder_interval_seconds IS NOT NULL AND r.n >= 1
   AND NOT webmon_in_maintenance(i.site_id, now())
    ON CONFLICT (idempotency_key, channel_id) DO NOTHING

-- outbox_counts --
SELECT state, count(*) FROM notifications WHERE state IN ('pending', 'failed') GROUP BY state
