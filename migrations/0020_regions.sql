-- Regions: a site is checked from one or more regions, and a check's identity becomes
-- (site, slot, region).
--
-- History is not rewritten: every column added here has a constant default, which
-- PostgreSQL records in the catalogue without touching a row, so every stored check,
-- packed day and rollup belongs to the region `default`, where it was made. Only the
-- primary keys are rebuilt to include the region (an index build per partition, no table
-- rewrite). A single-region deployment keeps one row per (site, slot) as before.

-- A region's name, as checkers (WEBMON_CHECKER_REGION) and sites spell it: 1 to 40
-- lower-case letters, digits, '-' or '_', starting with a letter or digit (eu-central-1,
-- us_east). A list of regions: 1 to 16 distinct names.
CREATE FUNCTION webmon_valid_regions(regions text[]) RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT cardinality(regions) BETWEEN 1 AND 16
       AND array_position(regions, NULL) IS NULL
       AND (SELECT bool_and(r ~ '^[a-z0-9][a-z0-9_-]{0,39}$') AND count(DISTINCT r) = count(*)
              FROM unnest(regions) AS r)
$$;

-- `quorum`: how many of the site's regions must see it down for its slot to be down;
-- NULL is a majority (floor(n / 2) + 1).
ALTER TABLE sites
    ADD COLUMN regions text[] NOT NULL DEFAULT '{default}',
    ADD COLUMN quorum integer,
    ADD CONSTRAINT sites_regions_valid CHECK (webmon_valid_regions(regions)),
    ADD CONSTRAINT sites_quorum_range
        CHECK (quorum IS NULL OR quorum BETWEEN 1 AND cardinality(regions));

-- Raw checks: the region that made the check, in the identity.
ALTER TABLE check_results ADD COLUMN region text NOT NULL DEFAULT 'default';
ALTER TABLE check_results DROP CONSTRAINT check_results_pkey;
ALTER TABLE check_results ADD PRIMARY KEY (site_id, scheduled_at, region);

-- Packed days: one row per (site, day, region).
ALTER TABLE check_results_packed ADD COLUMN region text NOT NULL DEFAULT 'default';
ALTER TABLE check_results_packed DROP CONSTRAINT check_results_packed_pkey;
ALTER TABLE check_results_packed ADD PRIMARY KEY (site_id, day, region);

-- Rollups: one row per (site, hour or day, region).
ALTER TABLE check_rollups_hourly ADD COLUMN region text NOT NULL DEFAULT 'default';
ALTER TABLE check_rollups_hourly DROP CONSTRAINT check_rollups_hourly_pkey;
ALTER TABLE check_rollups_hourly ADD PRIMARY KEY (site_id, hour, region);

ALTER TABLE check_rollups_daily ADD COLUMN region text NOT NULL DEFAULT 'default';
ALTER TABLE check_rollups_daily DROP CONSTRAINT check_rollups_daily_pkey;
ALTER TABLE check_rollups_daily ADD PRIMARY KEY (site_id, day, region);

-- The hour's checks gain their region: a new result type, which CREATE OR REPLACE cannot
-- give (migrations/functions/040_rollups.sql defines it again).
DROP FUNCTION webmon_hour_results(timestamptz);
