-- Region health's notifications (docs/regions.md#region-health): a region that becomes
-- unhealthy, and one that recovers, is told once per outage on every default channel,
-- instead of once per site whose checks it spoiled. Such a notification is about an outage
-- (`region_outage_id`), not a site nor an incident (both NULL); its key is
-- `region-outage-<id>-down` or `-up`.
ALTER TABLE notifications
    ADD COLUMN region_outage_id bigint REFERENCES region_outages (id) ON DELETE CASCADE,
    DROP CONSTRAINT notifications_kind,
    ADD CONSTRAINT notifications_kind
        CHECK (kind IN ('down', 'resolved', 'reminder', 'test', 'certificate',
                        'region_down', 'region_up')),
    ADD CONSTRAINT notifications_region_outage
        CHECK ((region_outage_id IS NOT NULL) = (kind IN ('region_down', 'region_up')));
CREATE INDEX notifications_region_outage ON notifications (region_outage_id)
    WHERE region_outage_id IS NOT NULL;
