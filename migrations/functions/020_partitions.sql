-- Range partitions by name: days of check_results, months of the rollups.

-- A range partition of `parent` named `part` for [lo, hi) on column `key`, if missing. Rows
-- of that range already in the parent's default partition are moved into it first.
CREATE OR REPLACE FUNCTION webmon_ensure_partition(parent text, part text, key text, lo text, hi text)
RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    stray boolean;
BEGIN
    IF to_regclass(part) IS NOT NULL THEN
        RETURN false;
    END IF;
    EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I WHERE %I >= %L AND %I < %L)',
                   parent || '_default', key, lo, key, hi) INTO stray;
    IF stray THEN
        EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS)', part, parent);
        EXECUTE format('WITH moved AS (DELETE FROM %I WHERE %I >= %L AND %I < %L RETURNING *)'
                       ' INSERT INTO %I SELECT * FROM moved',
                       parent || '_default', key, lo, key, hi, part);
        EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                       parent, part, lo, hi);
    ELSE
        EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
                       part, parent, lo, hi);
    END IF;
    RETURN true;
END
$$;

-- The partition of one UTC day of check_results.
CREATE OR REPLACE FUNCTION webmon_create_partition(day date) RETURNS boolean
LANGUAGE sql AS $$
    SELECT webmon_ensure_partition(
        'check_results', format('check_results_%s', to_char(day, 'YYYYMMDD')), 'scheduled_at',
        (day::timestamp AT TIME ZONE 'UTC')::text, ((day + 1)::timestamp AT TIME ZONE 'UTC')::text)
$$;

-- Partitions for `days` UTC days starting at `first_day`; returns how many it created.
CREATE OR REPLACE FUNCTION webmon_ensure_partitions(first_day date, days integer) RETURNS integer
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

CREATE OR REPLACE FUNCTION webmon_month_partition(parent text, month date) RETURNS boolean
LANGUAGE sql AS $$
    SELECT webmon_ensure_partition(
        parent, format('%s_%s', parent, to_char(month, 'YYYYMM')),
        CASE parent WHEN 'check_rollups_hourly' THEN 'hour' ELSE 'day' END,
        CASE parent WHEN 'check_rollups_hourly'
             THEN (month::timestamp AT TIME ZONE 'UTC')::text ELSE month::text END,
        CASE parent WHEN 'check_rollups_hourly'
             THEN ((month + interval '1 month')::timestamp AT TIME ZONE 'UTC')::text
             ELSE (month + interval '1 month')::date::text END)
$$;
