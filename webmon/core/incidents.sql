-- Incidents and the notifications about them: the statements of webmon.core.incidents.
-- The writer opens and resolves incidents (checker/writer/queries.sql); the notifier
-- sends the notifications (notifier/queries.sql).

-- incidents --
-- Newest first, by keyset: (opened_at, id) below the cursor's; `open_only` those not
-- resolved, `resolved_only` those resolved, `site_id` one site's (NULL: all).
SELECT i.id, i.site_id, s.url, s.name, i.opened_at, i.opening_slot, i.opening_checked_at, i.cause,
       i.status_code, i.error, i.error_detail, i.resolved_at, i.resolving_slot,
       i.resolving_checked_at
  FROM incidents i
  JOIN sites s ON s.id = i.site_id
 WHERE (NOT %(open_only)s OR i.resolved_at IS NULL)
   AND (NOT %(resolved_only)s OR i.resolved_at IS NOT NULL)
   AND (%(site_id)s::bigint IS NULL OR i.site_id = %(site_id)s)
   AND (%(before_at)s::timestamptz IS NULL OR (i.opened_at, i.id) < (%(before_at)s, %(before_id)s))
 ORDER BY i.opened_at DESC, i.id DESC
 LIMIT %(limit)s

-- notifications --
-- Newest first, below a cursor's id; of one state if asked.
SELECT n.id, n.idempotency_key, n.channel_id, c.name AS channel, n.site_id, n.incident_id,
       n.kind AS event, n.state, n.attempts, n.created_at, n.event_at, n.next_attempt_at,
       n.sent_at, n.last_error
  FROM notifications n
  JOIN channels c ON c.id = n.channel_id
 WHERE (%(state)s::text IS NULL OR n.state = %(state)s)
   AND (%(before_id)s::bigint IS NULL OR n.id < %(before_id)s)
 ORDER BY n.id DESC
 LIMIT %(limit)s

-- retry_failed --
-- Failed notifications back to pending, with a fresh retry budget.
UPDATE notifications SET state = 'pending', attempts = 0, next_attempt_at = now()
 WHERE state = 'failed' AND (%(id)s::bigint IS NULL OR id = %(id)s)
RETURNING id
