-- Maintenance windows: the statements of webmon.core.windows.

-- add_window --
INSERT INTO maintenance_windows (name, site_id, tag, starts_at, duration_seconds, recurrence,
                                 until)
     VALUES (%(name)s, %(site_id)s, %(tag)s, %(starts_at)s, %(duration_seconds)s,
             %(recurrence)s, %(until)s)
  RETURNING id

-- windows --
-- Every window (or one), and whether it is on now.
SELECT w.id, w.name, w.site_id, w.tag, w.starts_at, w.duration_seconds, w.recurrence,
       w.until, webmon_window_covers(w.starts_at, w.duration_seconds, w.recurrence, w.until,
                                     now()) AS active
  FROM maintenance_windows w
 WHERE %(window_id)s::bigint IS NULL OR w.id = %(window_id)s
 ORDER BY w.starts_at, w.id

-- remove_window --
DELETE FROM maintenance_windows WHERE id = %(window_id)s RETURNING id
