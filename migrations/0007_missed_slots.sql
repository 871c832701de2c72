-- Missed slots: a task that no checker started before its site's next slot is no longer
-- only counted and logged. The checker records it as a result row with error = 'missed'
-- and up NULL, so that SQL tells a slot that was never emitted (no row) from one that was
-- emitted but not checked in time (a 'missed' row). Uptime counts performed checks only.
ALTER TABLE check_results ALTER COLUMN up DROP NOT NULL;

-- Missed slots per hour and day beside the performed checks (`checks` counts only those).
ALTER TABLE check_rollups_hourly ADD COLUMN missed integer NOT NULL DEFAULT 0;
ALTER TABLE check_rollups_daily ADD COLUMN missed integer NOT NULL DEFAULT 0;
