-- Alerting: channels, routing, thresholds, maintenance windows, incidents and failed
-- notifications. Named queries of the read model, used by `webmon channels`, `webmon
-- windows`, `webmon thresholds`, `webmon incidents` and `webmon notifications`.

-- add_channel --
INSERT INTO channels (name, kind, config, secret, is_default)
     VALUES (%(name)s, %(kind)s, %(config)s, %(secret)s, %(is_default)s)
  RETURNING id

-- list_channels --
-- Never the secret: only whether there is one.
SELECT c.id, c.name, c.kind, c.is_default, c.enabled, c.secret IS NOT NULL, c.config,
       (SELECT count(*) FROM site_channels sc WHERE sc.channel_id = c.id) AS sites
  FROM channels c
 ORDER BY c.id

-- channel_by_name --
SELECT id, name, kind, config, secret FROM channels WHERE name = %(name)s

-- remove_channel --
DELETE FROM channels WHERE name = %(name)s RETURNING id

-- route_site --
INSERT INTO site_channels (site_id, channel_id)
SELECT %(site_id)s, c.id FROM channels c WHERE c.name = ANY(%(names)s::text[])
    ON CONFLICT DO NOTHING

-- unroute_site --
DELETE FROM site_channels WHERE site_id = %(site_id)s

-- site_routes --
SELECT c.name FROM webmon_routes(%(site_id)s) AS r(id) JOIN channels c ON c.id = r.id
 ORDER BY c.name

-- set_thresholds --
UPDATE sites
   SET failure_threshold = coalesce(%(failure)s, failure_threshold),
       success_threshold = coalesce(%(success)s, success_threshold),
       reminder_interval_seconds = CASE WHEN %(set_reminder)s THEN %(reminder)s
                                        ELSE reminder_interval_seconds END,
       tags = coalesce(%(tags)s::text[], tags)
 WHERE id = %(site_id)s OR url = %(url)s
RETURNING id, failure_threshold, success_threshold, reminder_interval_seconds, tags

-- add_window --
INSERT INTO maintenance_windows (name, site_id, tag, starts_at, duration_seconds, recurrence,
                                 until)
     VALUES (%(name)s, %(site_id)s, %(tag)s, %(starts_at)s, %(duration)s, %(recurrence)s,
             %(until)s)
  RETURNING id, starts_at

-- list_windows --
SELECT w.id, w.name, coalesce('site ' || w.site_id, 'tag ' || w.tag, 'all sites'),
       w.starts_at, w.duration_seconds, w.recurrence, w.until,
       webmon_window_covers(w.starts_at, w.duration_seconds, w.recurrence, w.until, now())
  FROM maintenance_windows w
 ORDER BY w.starts_at, w.id

-- remove_window --
DELETE FROM maintenance_windows WHERE id = %(id)s RETURNING id

-- incidents --
-- Newest first; `open_only` the ones not resolved, `site_id` one site's (NULL: all).
SELECT i.id, i.site_id, s.url, i.opened_at, i.resolved_at, i.cause,
       coalesce(i.resolved_at, now()) - i.opened_at AS lasted
  FROM incidents i
  JOIN sites s ON s.id = i.site_id
 WHERE (NOT %(open_only)s OR i.resolved_at IS NULL)
   AND (%(site_id)s::bigint IS NULL OR i.site_id = %(site_id)s)
 ORDER BY i.opened_at DESC, i.id DESC
 LIMIT %(limit)s

-- failed_notifications --
SELECT n.id, c.name, n.kind, n.site_id, n.attempts, n.created_at, n.last_error
  FROM notifications n
  JOIN channels c ON c.id = n.channel_id
 WHERE n.state = 'failed'
 ORDER BY n.created_at DESC, n.id DESC
 LIMIT %(limit)s

-- retry_failed --
-- Failed notifications back to pending, with a fresh retry budget.
UPDATE notifications SET state = 'pending', attempts = 0, next_attempt_at = now()
 WHERE state = 'failed' AND (%(id)s::bigint IS NULL OR id = %(id)s)
RETURNING id

-- api_channels --
-- The API's view of channels: never the secret, only whether there is one.
SELECT c.id, c.name, c.kind, c.config, c.secret IS NOT NULL, c.is_default, c.enabled,
       c.created_at
  FROM channels c
 WHERE %(channel_id)s::bigint IS NULL OR c.id = %(channel_id)s
 ORDER BY c.id

-- api_channel_for_test --
SELECT id, name, kind, config, secret FROM channels WHERE id = %(channel_id)s

-- api_update_channel --
UPDATE channels
   SET name = CASE WHEN %(set_name)s THEN %(name)s ELSE name END,
       config = CASE WHEN %(set_config)s THEN %(config)s ELSE config END,
       secret = CASE WHEN %(set_secret)s THEN %(secret)s ELSE secret END,
       is_default = CASE WHEN %(set_default)s THEN %(is_default)s ELSE is_default END,
       enabled = CASE WHEN %(set_enabled)s THEN %(enabled)s ELSE enabled END
 WHERE id = %(channel_id)s
RETURNING id, kind

-- api_delete_channel --
DELETE FROM channels WHERE id = %(channel_id)s RETURNING id

-- api_incidents --
-- Newest first, by keyset: (opened_at, id) below the cursor's.
SELECT i.id, i.site_id, s.url, i.opened_at, i.opening_slot, i.opening_checked_at, i.cause,
       i.status_code, i.error, i.error_detail, i.resolved_at, i.resolving_slot,
       i.resolving_checked_at
  FROM incidents i
  JOIN sites s ON s.id = i.site_id
 WHERE (NOT %(open_only)s OR i.resolved_at IS NULL)
   AND (%(site_id)s::bigint IS NULL OR i.site_id = %(site_id)s)
   AND (%(before_at)s::timestamptz IS NULL OR (i.opened_at, i.id) < (%(before_at)s, %(before_id)s))
 ORDER BY i.opened_at DESC, i.id DESC
 LIMIT %(limit)s

-- api_notifications --
SELECT n.id, n.idempotency_key, n.channel_id, n.site_id, n.incident_id, n.kind, n.state,
       n.attempts, n.created_at, n.event_at, n.next_attempt_at, n.sent_at, n.last_error
  FROM notifications n
 WHERE (%(state)s::text IS NULL OR n.state = %(state)s)
   AND (%(before_id)s::bigint IS NULL OR n.id < %(before_id)s)
 ORDER BY n.id DESC
 LIMIT %(limit)s

-- api_windows --
SELECT w.id, w.name, w.site_id, w.tag, w.starts_at, w.duration_seconds, w.recurrence,
       w.until, webmon_window_covers(w.starts_at, w.duration_seconds, w.recurrence, w.until,
                                     now())
  FROM maintenance_windows w
 WHERE %(window_id)s::bigint IS NULL OR w.id = %(window_id)s
 ORDER BY w.id
