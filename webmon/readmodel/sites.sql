-- Sites: register, list, change, and their latest status. Named queries of the read model
-- (webmon/readmodel), used by the `webmon` command line. The README's "Command line"
-- section quotes add_site, status and uptime as they are here;
-- tests/unit/test_cli_format.py keeps the two in step.

-- add_site --
INSERT INTO sites (url, interval_seconds, timeout_seconds, regex)
     VALUES (%(url)s, %(interval_seconds)s, %(timeout_seconds)s, %(regex)s)
  RETURNING id, interval_seconds, timeout_seconds, regex

-- import_sites --
-- The whole file in one COPY, in one transaction: every row lands or none does, and each
-- row meets the same constraints and defaults as an INSERT. {columns} is the file's header
-- row, checked against the columns a file may name and passed as identifiers.
COPY sites ({columns}) FROM STDIN (FORMAT csv, HEADER true)

-- list_sites --
SELECT id, enabled, interval_seconds, timeout_seconds, regex, url
  FROM sites
 ORDER BY id

-- find_sites --
-- SITE on the command line is an id or a URL.
SELECT id, url FROM sites WHERE id = %(site_id)s OR url = %(url)s ORDER BY id

-- set_enabled --
UPDATE sites SET enabled = %(enabled)s
 WHERE id = %(site_id)s OR url = %(url)s
RETURNING id, url

-- status --
SELECT s.id, st.up, st.status_code, st.response_time_ms, st.regex_matched, st.checked_at,
       st.error, s.url
  FROM sites s
  LEFT JOIN site_status st ON st.site_id = s.id
 WHERE s.enabled AND (NOT %(down_only)s OR NOT st.up)
 ORDER BY s.id

-- uptime --
SELECT count(*) FILTER (WHERE up IS NOT NULL) AS checks,
       count(*) FILTER (WHERE up) AS up_checks,
       round(100.0 * count(*) FILTER (WHERE up)
             / nullif(count(*) FILTER (WHERE up IS NOT NULL), 0), 2) AS uptime_pct,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY response_time_ms) AS p50_ms,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY response_time_ms) AS p95_ms,
       count(*) FILTER (WHERE up IS NULL) AS missed  -- slots not checked in time
  FROM check_results_all  -- raw and packed days
 WHERE site_id = %(site_id)s AND scheduled_at > now() - %(since)s
