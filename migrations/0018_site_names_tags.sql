-- Sites get a display name and tags people can filter by (webmon.core.site_rules holds the
-- same rules in words; each surface refuses what this table would).
--
-- `name`: optional, 1 to 100 characters, no control characters, no space at either end.
-- `tags` (a column since 0010, for maintenance windows): each `key` or `key:value`; a key is
-- 1 to 40 lower-case letters, digits, `_`, `.` or `-`, starting with a letter or a digit; a
-- value 1 to 100 characters, neither a comma (lists of tags are written comma-separated in
-- a form, a CSV cell or a flag) nor a control character, no space at either end. At most 20
-- tags, none twice.

-- The tag syntax, one tag and a whole array. IMMUTABLE: a CHECK constraint calls it.
CREATE FUNCTION webmon_tag_valid(tag text) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT tag ~ '^[a-z0-9][a-z0-9_.-]{0,39}(:[^,[:cntrl:][:space:]]([^,[:cntrl:]]{0,98}[^,[:cntrl:][:space:]])?)?$'
$$;

CREATE FUNCTION webmon_tags_valid(tags text[]) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT cardinality(tags) <= 20
       AND array_position(tags, NULL) IS NULL
       AND (SELECT coalesce(bool_and(webmon_tag_valid(t)), true)
                   AND count(DISTINCT t) = count(*)
              FROM unnest(tags) AS t)
$$;

-- Tags written before this rule existed are brought to it rather than lost: the key
-- lower-cased, each run of other characters in it a '-', the value's commas and control
-- characters spaces, both trimmed to their lengths; a tag with nothing left of its key
-- becomes `tag:…`; duplicates after that are dropped. Windows' tags the same way, so a
-- window still covers the sites it covered.
CREATE FUNCTION pg_temp.tag_normal(tag text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    WITH parts AS (
        SELECT regexp_replace(
                   regexp_replace(lower(btrim(split_part(tag, ':', 1))), '[^a-z0-9_.-]+', '-',
                                  'g'),
                   '^[^a-z0-9]+', '') AS key,
               CASE WHEN strpos(tag, ':') > 0
                    THEN btrim(left(regexp_replace(substr(tag, strpos(tag, ':') + 1),
                                                   '[,[:cntrl:]]+', ' ', 'g'), 100))
                    ELSE '' END AS value
    )
    SELECT left(CASE WHEN key = '' THEN 'tag' ELSE key END, 40)
           || CASE WHEN value = '' THEN '' ELSE ':' || value END
      FROM parts
$$;

UPDATE sites
   SET tags = ARRAY(SELECT n FROM (SELECT pg_temp.tag_normal(t) AS n, min(o) AS first
                                     FROM unnest(tags) WITH ORDINALITY AS u (t, o)
                                    WHERE t IS NOT NULL
                                    GROUP BY 1) AS d
                     ORDER BY first LIMIT 20)
 WHERE NOT webmon_tags_valid(tags);

UPDATE maintenance_windows
   SET tag = pg_temp.tag_normal(tag)
 WHERE tag IS NOT NULL AND NOT webmon_tag_valid(tag);

ALTER TABLE sites
    ADD COLUMN name text,
    ADD CONSTRAINT sites_name_valid
        CHECK (name IS NULL OR (char_length(name) BETWEEN 1 AND 100
                                AND name !~ '[[:cntrl:]]' AND name = btrim(name))),
    DROP CONSTRAINT sites_tags_valid,
    ADD CONSTRAINT sites_tags_valid CHECK (webmon_tags_valid(tags));

ALTER TABLE maintenance_windows
    ADD CONSTRAINT maintenance_windows_tag_valid CHECK (tag IS NULL OR webmon_tag_valid(tag));
