-- One row per performed check, range-partitioned by day on the slot it was scheduled for.
-- The identity of a check is (site_id, scheduled_at): a redelivered task or result finds
-- the primary key taken and adds nothing.
CREATE TABLE check_results (
    site_id          bigint NOT NULL,
    scheduled_at     timestamptz NOT NULL,
    checked_at       timestamptz NOT NULL,
    response_time_ms double precision,
    status_code      smallint,
    up               boolean NOT NULL,
    regex_matched    boolean,
    error            text,
    error_detail     text,
    PRIMARY KEY (site_id, scheduled_at)
) PARTITION BY RANGE (scheduled_at);

-- Catches a row for a day that has no partition yet, so an insert never fails.
CREATE TABLE check_results_default PARTITION OF check_results DEFAULT;

-- Creates the partition for one UTC day if missing; rows of that day already sitting in the
-- default partition are moved into it first. Returns true if it created one.
CREATE FUNCTION webmon_create_partition(day date) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    part text := format('check_results_%s', to_char(day, 'YYYYMMDD'));
    lo timestamptz := day::timestamp AT TIME ZONE 'UTC';
    hi timestamptz := (day + 1)::timestamp AT TIME ZONE 'UTC';
BEGIN
    IF to_regclass(part) IS NOT NULL THEN
        RETURN false;
    END IF;
    IF EXISTS (SELECT 1 FROM check_results_default WHERE scheduled_at >= lo AND scheduled_at < hi) THEN
        EXECUTE format('CREATE TABLE %I (LIKE check_results INCLUDING DEFAULTS)', part);
        EXECUTE format(
            'WITH moved AS (DELETE FROM check_results_default'
            ' WHERE scheduled_at >= %L AND scheduled_at < %L RETURNING *)'
            ' INSERT INTO %I SELECT * FROM moved', lo, hi, part);
        EXECUTE format('ALTER TABLE check_results ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                       part, lo, hi);
    ELSE
        EXECUTE format('CREATE TABLE %I PARTITION OF check_results FOR VALUES FROM (%L) TO (%L)',
                       part, lo, hi);
    END IF;
    RETURN true;
END
$$;

-- Partitions for `days` UTC days starting at `first_day`; returns how many it created.
CREATE FUNCTION webmon_ensure_partitions(first_day date, days integer) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    created integer := 0;
BEGIN
    FOR i IN 0 .. days - 1 LOOP
        IF webmon_create_partition(first_day + i) THEN
            created := created + 1;
        END IF;
    END LOOP;
    RETURN created;
END
$$;

-- The current period and the next.
SELECT webmon_ensure_partitions((now() AT TIME ZONE 'UTC')::date, 2);
