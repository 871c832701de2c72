-- Quorum and region health (docs/regions.md): the tables the quorum's rule reads.
--
-- A region's outage: while it lasts, from the first slot its checkers were seen unhealthy
-- at (`started_at`) to the slot they were seen healthy again (`ended_at`, NULL while it
-- lasts), the region's checks are stored as usual but count towards no site's quorum.
-- `cause`: its canary failed ('canary'), or most of its sites failed at the same slot
-- ('most_sites'); `detail` says what was seen, for the operator.
CREATE TABLE region_outages (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    region     text NOT NULL,
    started_at timestamptz NOT NULL,
    ended_at   timestamptz,
    cause      text NOT NULL,
    detail     text,
    CONSTRAINT region_outages_region CHECK (webmon_valid_regions(ARRAY[region])),
    CONSTRAINT region_outages_cause CHECK (cause IN ('canary', 'most_sites')),
    CONSTRAINT region_outages_span CHECK (ended_at IS NULL OR ended_at > started_at)
);
-- At most one outage of a region lasts at a time.
CREATE UNIQUE INDEX region_outages_open ON region_outages (region) WHERE ended_at IS NULL;
CREATE INDEX region_outages_by_region ON region_outages (region, started_at);

-- The canary of a region: a site the operator names, checked from that region, whose
-- failure there says the region's own path is broken rather than the sites'.
CREATE TABLE region_canaries (
    region  text PRIMARY KEY,
    site_id bigint NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    CONSTRAINT region_canaries_region CHECK (webmon_valid_regions(ARRAY[region]))
);

-- The regions whose checks saw the failure that opened an incident (NULL: the incident
-- opened before regions had a quorum, or on a single-region site's own check).
ALTER TABLE incidents ADD COLUMN regions text[];
