-- Sites: the statements of webmon.core.sites, the one owner of the sites table's writes
-- for the API, the dashboard and the CLI. (Plain SQL stays a first-class way in: an
-- operator's INSERT meets the same constraints.)

-- site_rows --
-- A page of sites with their latest status and their auth's kind and user name (never its
-- sealed secret), by id after a cursor, filtered: `state` up, down or unchecked; `enabled`;
-- `q` a piece of the URL or the name (case-insensitive); `tag` a tag (`key:value`), or a key
-- alone, which picks the bare key and every value of it. The primary key drives the scan
-- and site_status is joined per row, so a page costs its size. (No index on tags: every
-- claim rewrites a site's row, and a GIN index would be written each time; a filter of a
-- rare tag reads the table, ~100,000 rows in tens of milliseconds.)
SELECT s.id, s.url, s.name, s.interval_seconds, s.timeout_seconds, s.regex, s.method, s.headers,
       ARRAY(SELECT ARRAY[lower(r), upper(r)] FROM unnest(s.expected_status) AS r)
         AS expected_status,
       s.enabled, s.restricted, s.public, s.created_at, s.next_check_at,
       st.up, st.status_code, st.response_time_ms, st.error, st.error_detail, st.checked_at,
       st.scheduled_at, st.tls_version, st.tls_expires_at, st.regex_matched,
       s.max_redirects, s.body, s.body_content_type, s.proxy, s.tls_ca_file, s.tls_cert_file,
       s.tls_key_file, s.tls_verify, s.tls_server_name, s.ip_version, s.require_tls,
       s.header_name, s.header_regex, s.header_mode, s.regex_mode,
       a.kind AS auth_kind, a.username AS auth_username,
       s.failure_threshold, s.success_threshold, s.reminder_interval_seconds, s.tags,
       s.regions, s.quorum, s.cert_expiry_days
  FROM sites s
  LEFT JOIN site_status st ON st.site_id = s.id
  LEFT JOIN site_auth a ON a.site_id = s.id
 WHERE s.id > %(after)s
   AND (%(site_id)s::bigint IS NULL OR s.id = %(site_id)s)
   AND (%(enabled)s::boolean IS NULL OR s.enabled = %(enabled)s)
   AND (%(state)s::text IS NULL
        OR (%(state)s = 'up' AND st.up)
        OR (%(state)s = 'down' AND NOT st.up)
        OR (%(state)s = 'unchecked' AND st.site_id IS NULL))
   AND (%(q)s::text IS NULL OR strpos(lower(s.url), lower(%(q)s)) > 0
        OR strpos(lower(s.name), lower(%(q)s)) > 0)
   AND (%(tag)s::text IS NULL OR webmon_tags_match(s.tags, %(tag)s::text))
 ORDER BY s.id
 LIMIT %(limit)s

-- sites_json --
-- site_rows (the block above stands in for the braces below), each row as the API's
-- SiteOut object (advisories asked of an up site of several regions), made by
-- PostgreSQL: the API passes the text through, so a page of 50 sites costs it no decoding
-- and no encoding, which were half of its time on a page (PostgreSQL has the other core).
-- row_to_json of a row of named columns is cheaper than json_build_object, and keeps
-- SiteOut's order.
SELECT p.id, row_to_json(j)::text
  FROM ({site_rows}) AS p,
       LATERAL (
           SELECT p.id, p.url, p.name, p.tags, p.interval_seconds, p.timeout_seconds, p.regex, p.method,
                  p.headers, p.expected_status, p.enabled, p.restricted, p.public,
                  p.created_at, p.next_check_at,
                  (SELECT st FROM (SELECT p.up, p.status_code, p.response_time_ms, p.error,
                                          p.error_detail, p.checked_at, p.scheduled_at,
                                          p.tls_version, p.tls_expires_at,
                                          p.regex_matched) AS st
                    WHERE p.up IS NOT NULL) AS status,
                  p.max_redirects, p.body, p.body_content_type, p.proxy, p.tls_ca_file,
                  p.tls_cert_file, p.tls_key_file, p.tls_verify, p.tls_server_name,
                  p.ip_version, p.require_tls, p.header_name, p.header_regex,
                  p.header_mode, p.regex_mode, p.regions, p.quorum, p.cert_expiry_days,
                  (SELECT a FROM (SELECT p.auth_kind AS kind, p.auth_username AS username) AS a
                    WHERE p.auth_kind IS NOT NULL) AS auth,
                  CASE WHEN p.up AND cardinality(p.regions) > 1
                       THEN (SELECT coalesce(json_agg(a), '[]') FROM webmon_advisories(p.id) AS a)
                       ELSE '[]'::json END AS advisories
       ) AS j
 ORDER BY p.id

-- site_for_change --
-- One site as a change starts from, locked until the change commits.
SELECT s.id, s.url, s.name, s.tags, s.interval_seconds, s.timeout_seconds, s.regex, s.method, s.headers,
       ARRAY(SELECT ARRAY[lower(r), upper(r)] FROM unnest(s.expected_status) AS r)
         AS expected_status,
       s.enabled, s.restricted, s.max_redirects, s.body, s.body_content_type, s.proxy,
       s.tls_ca_file, s.tls_cert_file, s.tls_key_file, s.tls_verify, s.tls_server_name,
       s.ip_version, s.require_tls, s.header_name, s.header_regex, s.header_mode,
       s.regex_mode, s.regions, s.quorum, s.cert_expiry_days
  FROM sites s
 WHERE s.id = %(site_id)s
   FOR UPDATE

-- reserve_site_ids --
-- Ids for new sites, so that one COPY can name each row's id.
SELECT nextval(pg_get_serial_sequence('sites', 'id')) FROM generate_series(1, %(count)s)

-- copy_sites --
-- New sites, one COPY for them all: every row lands or none does. The columns are
-- webmon.core.sites.COPY_COLUMNS, in order.
COPY sites (id, url, name, tags, interval_seconds, timeout_seconds, restricted, regex, method, headers,
            expected_status, enabled, max_redirects, body, body_content_type, proxy,
            tls_ca_file, tls_cert_file, tls_key_file, tls_verify, tls_server_name,
            ip_version, require_tls, header_name, header_regex, header_mode, regex_mode,
            regions, quorum, cert_expiry_days)
FROM STDIN

-- update_site --
-- A change, written whole: the core read the row (site_for_change), applied the change
-- and decided `restricted`.
UPDATE sites
   SET url = %(url)s, name = %(name)s, tags = %(tags)s, interval_seconds = %(interval_seconds)s,
       timeout_seconds = %(timeout_seconds)s, restricted = %(restricted)s,
       regex = %(regex)s, method = %(method)s, headers = %(headers)s,
       expected_status = %(expected_status)s::int4multirange, enabled = %(enabled)s,
       max_redirects = %(max_redirects)s, body = %(body)s,
       body_content_type = %(body_content_type)s, proxy = %(proxy)s,
       tls_ca_file = %(tls_ca_file)s, tls_cert_file = %(tls_cert_file)s,
       tls_key_file = %(tls_key_file)s, tls_verify = %(tls_verify)s,
       tls_server_name = %(tls_server_name)s, ip_version = %(ip_version)s,
       require_tls = %(require_tls)s, header_name = %(header_name)s,
       header_regex = %(header_regex)s, header_mode = %(header_mode)s,
       regex_mode = %(regex_mode)s, regions = %(regions)s::text[], quorum = %(quorum)s,
       cert_expiry_days = %(cert_expiry_days)s
 WHERE id = %(id)s

-- delete_site --
DELETE FROM sites WHERE id = %(site_id)s RETURNING id

-- set_site_auth --
-- A site's credentials, the secret sealed by the core (shared.sealing): set or replaced.
INSERT INTO site_auth (site_id, kind, username, sealed)
     VALUES (%(site_id)s, %(kind)s, %(username)s, %(sealed)s)
ON CONFLICT (site_id) DO UPDATE
        SET kind = excluded.kind, username = excluded.username, sealed = excluded.sealed,
            updated_at = now()

-- clear_site_auth --
DELETE FROM site_auth WHERE site_id = %(site_id)s RETURNING site_id

-- find_sites --
-- A site named on the command line: by id when it is all digits, else by URL (which may
-- name several).
SELECT id, url FROM sites WHERE id = %(site_id)s OR url = %(url)s ORDER BY id

-- set_enabled --
UPDATE sites SET enabled = %(enabled)s WHERE id = ANY(%(site_ids)s::bigint[]) RETURNING id, url

-- set_public --
UPDATE sites SET public = %(public)s WHERE id = %(site_id)s RETURNING id

-- set_restricted --
UPDATE sites SET restricted = %(restricted)s WHERE id = %(site_id)s RETURNING id

-- set_thresholds --
UPDATE sites
   SET failure_threshold = coalesce(%(failure)s, failure_threshold),
       success_threshold = coalesce(%(success)s, success_threshold),
       reminder_interval_seconds = CASE WHEN %(set_reminder)s THEN %(reminder)s
                                        ELSE reminder_interval_seconds END,
       tags = coalesce(%(tags)s::text[], tags),
       cert_expiry_days = coalesce(%(cert_days)s, cert_expiry_days)
 WHERE id = %(site_id)s
RETURNING id, failure_threshold, success_threshold, reminder_interval_seconds, tags,
          cert_expiry_days

-- status_summary --
-- Enabled sites up, down, and not checked yet; disabled sites: of every site, or of those a
-- search picks (`q` a piece of the URL or the name, `tag` as in site_rows), so that the
-- counts say what the filtered page shows.
SELECT count(*) FILTER (WHERE s.enabled AND st.up) AS up,
       count(*) FILTER (WHERE s.enabled AND NOT st.up) AS down,
       count(*) FILTER (WHERE s.enabled AND st.site_id IS NULL) AS unchecked,
       count(*) FILTER (WHERE NOT s.enabled) AS disabled
  FROM sites s
  LEFT JOIN site_status st ON st.site_id = s.id
 WHERE (%(q)s::text IS NULL OR strpos(lower(s.url), lower(%(q)s)) > 0
        OR strpos(lower(s.name), lower(%(q)s)) > 0)
   AND (%(tag)s::text IS NULL OR webmon_tags_match(s.tags, %(tag)s::text))

-- status_summary_all --
-- status_summary of every site, the overview's counts without a search: one pass over
-- site_status and one over sites, no join (the join of 100,000 sites to their status was
-- 50-90 ms a page, with a parallel worker; these two scans ~20 ms). A disabled site is
-- looked up in site_status (the AND stops at an enabled one), so that its state is taken
-- out of the up and down counts. Same figures as status_summary's.
WITH st AS (
    SELECT count(*) FILTER (WHERE up) AS up, count(*) FILTER (WHERE NOT up) AS down,
           count(*) AS known
      FROM site_status
), s AS (
    SELECT count(*) FILTER (WHERE s.enabled) AS enabled,
           count(*) FILTER (WHERE NOT s.enabled) AS disabled,
           count(*) FILTER (WHERE NOT s.enabled AND EXISTS (
               SELECT FROM site_status x WHERE x.site_id = s.id AND x.up)) AS off_up,
           count(*) FILTER (WHERE NOT s.enabled AND EXISTS (
               SELECT FROM site_status x WHERE x.site_id = s.id AND NOT x.up)) AS off_down
      FROM sites s
)
SELECT st.up - s.off_up AS up, st.down - s.off_down AS down,
       s.enabled - (st.known - s.off_up - s.off_down) AS unchecked, s.disabled
  FROM st, s

-- down_now --
-- The sites down now, as the overview shows them: since when and why (with the regex's
-- verdict, for a site down because its page lacked the pattern); of every site or of those
-- a search picks, as status_summary.
SELECT st.site_id, st.url, s.name, coalesce(e.checked_at, st.checked_at) AS down_since,
       st.status_code, st.error, st.error_detail, st.regex_matched
  FROM site_status st
  JOIN sites s ON s.id = st.site_id
  LEFT JOIN LATERAL (SELECT checked_at FROM site_events
                      WHERE site_id = st.site_id
                      ORDER BY scheduled_at DESC LIMIT 1) AS e ON true
 WHERE NOT st.up
   AND (%(q)s::text IS NULL OR strpos(lower(s.url), lower(%(q)s)) > 0
        OR strpos(lower(s.name), lower(%(q)s)) > 0)
   AND (%(tag)s::text IS NULL OR webmon_tags_match(s.tags, %(tag)s::text))
 ORDER BY down_since, st.site_id
 LIMIT 100

-- public_sites --
-- The sites on the public status page, with their state.
SELECT s.id, s.url, st.up, st.checked_at
  FROM sites s
  LEFT JOIN site_status st ON st.site_id = s.id
 WHERE s.public AND s.enabled
 ORDER BY s.id
 LIMIT 500
