-- Region health (docs/regions.md#region-health): the notifications of a region's outage.
--
-- The writer, which opens and ends outages, and the core, which ends a canary's outage
-- when the operator takes the canary away, queue them through this one statement.

-- Queue the notification of an outage's `event_kind` ('region_down' when it opened,
-- 'region_up' when it ended) that happened at `happened`, on every enabled default
-- channel, once: its key is the outage's and the event's. Returns how many were queued.
CREATE OR REPLACE FUNCTION webmon_queue_region_event(
    outage_id bigint, event_kind text, happened timestamptz
) RETURNS integer LANGUAGE sql AS $$
    WITH queued AS (
        INSERT INTO notifications (idempotency_key, channel_id, region_outage_id, kind,
                                   event_at)
        SELECT 'region-outage-' || outage_id || '-'
                   || CASE event_kind WHEN 'region_down' THEN 'down' ELSE 'up' END,
               c.id, outage_id, event_kind, happened
          FROM channels c
         WHERE c.is_default AND c.enabled
            ON CONFLICT (idempotency_key, channel_id) DO NOTHING
        RETURNING 1)
    SELECT count(*)::integer FROM queued
$$;
