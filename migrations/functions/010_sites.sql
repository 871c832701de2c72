-- The functions behind the sites table's defaults and checks.

-- On insert: a NULL timeout means min(10 s, interval); a NULL next_check_at a random moment
-- within the first interval, so that sites inserted together do not fire together.
CREATE OR REPLACE FUNCTION sites_fill_defaults() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.timeout_seconds IS NULL THEN
        NEW.timeout_seconds := least(10, NEW.interval_seconds);
    END IF;
    IF NEW.next_check_at IS NULL THEN
        NEW.next_check_at := now() + random() * make_interval(secs => NEW.interval_seconds);
    END IF;
    RETURN NEW;
END
$$;

-- Extra request headers of a site: a JSON object of string values, at most 50 of them and
-- 8 KiB in all; names are HTTP tokens, values have no control characters (no header
-- injection), and the headers that frame the message or the connection are webmon's own.
CREATE OR REPLACE FUNCTION webmon_valid_headers(headers jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT CASE
        WHEN jsonb_typeof(headers) <> 'object' OR length(headers::text) > 8192 THEN false
        ELSE (SELECT count(*) <= 50 AND coalesce(bool_and(
                         name ~ '^[!#$%&''*+.^_`|~0-9A-Za-z-]+$'
                     AND lower(name) NOT IN ('content-length', 'transfer-encoding', 'connection',
                                             'upgrade', 'te', 'trailer', 'keep-alive')
                     AND jsonb_typeof(value) = 'string'
                     AND (value #>> '{}') !~ '[[:cntrl:]]'), true)
                FROM jsonb_each(headers) AS h(name, value))
    END
$$;

-- A list of regions a site is checked from: 1 to 16 distinct names of 1 to 40 lower-case
-- letters, digits, '-' or '_', starting with a letter or digit (WEBMON_CHECKER_REGION
-- spells them alike).
CREATE OR REPLACE FUNCTION webmon_valid_regions(regions text[]) RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT cardinality(regions) BETWEEN 1 AND 16
       AND array_position(regions, NULL) IS NULL
       AND (SELECT bool_and(r ~ '^[a-z0-9][a-z0-9_-]{0,39}$') AND count(DISTINCT r) = count(*)
              FROM unnest(regions) AS r)
$$;

-- Whether a site's tags match a filter: `key:value` matches that tag, a bare `key` every
-- tag of that key (and the bare tag itself). The overview's, the API's, the CLI's and the
-- status pages' tag filters all ask this one function. The planner must inline it: called
-- as a function it costs ~3 us a row, and its default cost of 100 a call makes a page's
-- generic plan start a parallel worker (12 ms for a page of 50, against 1 ms). So it is one
-- expression without a subquery, and STABLE like array_to_string. A key holds no ':' and a
-- tag no control character, so "\n key:" in the tags joined by "\n" is a tag of that key.
CREATE OR REPLACE FUNCTION webmon_tags_match(tags text[], wanted text) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT tags @> ARRAY[wanted]
        OR (strpos(wanted, ':') = 0
            AND strpos(E'\n' || array_to_string(tags, E'\n'), E'\n' || wanted || ':') > 0)
$$;
