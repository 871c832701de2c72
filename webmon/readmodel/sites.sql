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

-- api_sites --
-- A page of sites with their latest status, by id after a cursor, filtered: `state` up,
-- down or unchecked; `enabled`; `q` a piece of the URL (case-insensitive). The primary
-- key drives the scan and site_status is joined per row, so a page costs its size. The
-- HTTP options follow (webmon.api.schemas.OPTION_COLUMNS), then the auth's kind and user
-- name: never its sealed secret.
SELECT s.id, s.url, s.interval_seconds, s.timeout_seconds, s.regex, s.method, s.headers,
       ARRAY(SELECT ARRAY[lower(r), upper(r)] FROM unnest(s.expected_status) AS r)
         AS expected_status,
       s.enabled, s.restricted, s.public, s.created_at, s.next_check_at,
       st.up, st.status_code, st.response_time_ms, st.error, st.error_detail, st.checked_at,
       st.scheduled_at, st.tls_version, st.tls_expires_at, st.regex_matched,
       s.max_redirects, s.body, s.body_content_type, s.proxy, s.tls_ca_file, s.tls_cert_file,
       s.tls_key_file, s.tls_verify, s.tls_server_name, s.ip_version, s.require_tls,
       s.header_name, s.header_regex, s.header_mode, s.regex_mode,
       a.kind, a.username
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
   AND (%(q)s::text IS NULL OR strpos(lower(s.url), lower(%(q)s)) > 0)
 ORDER BY s.id
 LIMIT %(limit)s

-- api_sites_json --
-- api_sites (the block above stands in for the braces below), each row as SiteOut's JSON
-- object, made by PostgreSQL: the API passes the text through, so a page of 50 sites costs
-- it no decoding and no encoding, which were half of its time on a page (PostgreSQL has
-- the other core). row_to_json of a row of named columns is cheaper than
-- json_build_object, and keeps SiteOut's order.
SELECT p.id, row_to_json(j)::text
  FROM ({api_sites}) AS p,
       LATERAL (
           SELECT p.id, p.url, p.interval_seconds, p.timeout_seconds, p.regex, p.method,
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
                  p.header_mode, p.regex_mode,
                  (SELECT a FROM (SELECT p.kind, p.username) AS a
                    WHERE p.kind IS NOT NULL) AS auth
       ) AS j
 ORDER BY p.id

-- api_create_site --
INSERT INTO sites (url, interval_seconds, timeout_seconds, regex, method, headers,
                   expected_status, enabled, restricted, max_redirects, body,
                   body_content_type, proxy, tls_ca_file, tls_cert_file, tls_key_file,
                   tls_verify, tls_server_name, ip_version, require_tls, header_name,
                   header_regex, header_mode, regex_mode)
     VALUES (%(url)s, %(interval_seconds)s, %(timeout_seconds)s, %(regex)s, %(method)s,
             %(headers)s, %(expected_status)s::int4multirange, %(enabled)s, %(restricted)s,
             %(max_redirects)s, %(body)s, %(body_content_type)s, %(proxy)s, %(tls_ca_file)s,
             %(tls_cert_file)s, %(tls_key_file)s, %(tls_verify)s, %(tls_server_name)s,
             %(ip_version)s, %(require_tls)s, %(header_name)s, %(header_regex)s,
             %(header_mode)s, %(regex_mode)s)
  RETURNING id

-- set_site_auth --
-- A site's credentials, the secret sealed by the caller (shared.sealing): set or replaced.
INSERT INTO site_auth (site_id, kind, username, sealed)
     VALUES (%(site_id)s, %(kind)s, %(username)s, %(sealed)s)
ON CONFLICT (site_id) DO UPDATE
        SET kind = excluded.kind, username = excluded.username, sealed = excluded.sealed,
            updated_at = now()

-- clear_site_auth --
DELETE FROM site_auth WHERE site_id = %(site_id)s RETURNING site_id

-- api_reserve_site_ids --
-- Ids for a bulk import, so that its single COPY can name each row's id.
SELECT nextval(pg_get_serial_sequence('sites', 'id')) FROM generate_series(1, %(count)s)

-- api_copy_sites --
COPY sites (id, url, interval_seconds, timeout_seconds, regex, method, headers,
            expected_status, enabled, restricted, max_redirects, body, body_content_type,
            proxy, tls_ca_file, tls_cert_file, tls_key_file, tls_verify, tls_server_name,
            ip_version, require_tls, header_name, header_regex, header_mode, regex_mode)
FROM STDIN

-- api_update_site --
-- A PATCH: each field changes only when the request names it. A URL set through the API
-- makes the site restricted (checked under the target policy) from then on.
UPDATE sites
   SET url = CASE WHEN %(set_url)s THEN %(url)s ELSE url END,
       restricted = restricted OR %(set_url)s,
       interval_seconds = CASE WHEN %(set_interval)s THEN %(interval_seconds)s
                               ELSE interval_seconds END,
       timeout_seconds = CASE WHEN %(set_timeout)s
                              THEN coalesce(%(timeout_seconds)s,
                                            least(10, CASE WHEN %(set_interval)s
                                                           THEN %(interval_seconds)s
                                                           ELSE interval_seconds END))
                              ELSE timeout_seconds END,
       regex = CASE WHEN %(set_regex)s THEN %(regex)s ELSE regex END,
       method = CASE WHEN %(set_method)s THEN %(method)s ELSE method END,
       headers = CASE WHEN %(set_headers)s THEN %(headers)s ELSE headers END,
       expected_status = CASE WHEN %(set_expected)s THEN %(expected_status)s::int4multirange
                              ELSE expected_status END,
       enabled = CASE WHEN %(set_enabled)s THEN %(enabled)s ELSE enabled END,
       max_redirects = CASE WHEN %(set_max_redirects)s THEN %(max_redirects)s
                            ELSE max_redirects END,
       body = CASE WHEN %(set_body)s THEN %(body)s ELSE body END,
       body_content_type = CASE WHEN %(set_body_content_type)s THEN %(body_content_type)s
                                ELSE body_content_type END,
       proxy = CASE WHEN %(set_proxy)s THEN %(proxy)s ELSE proxy END,
       tls_ca_file = CASE WHEN %(set_tls_ca_file)s THEN %(tls_ca_file)s ELSE tls_ca_file END,
       tls_cert_file = CASE WHEN %(set_tls_cert_file)s THEN %(tls_cert_file)s
                            ELSE tls_cert_file END,
       tls_key_file = CASE WHEN %(set_tls_key_file)s THEN %(tls_key_file)s ELSE tls_key_file END,
       tls_verify = CASE WHEN %(set_tls_verify)s THEN %(tls_verify)s ELSE tls_verify END,
       tls_server_name = CASE WHEN %(set_tls_server_name)s THEN %(tls_server_name)s
                              ELSE tls_server_name END,
       ip_version = CASE WHEN %(set_ip_version)s THEN %(ip_version)s ELSE ip_version END,
       require_tls = CASE WHEN %(set_require_tls)s THEN %(require_tls)s ELSE require_tls END,
       header_name = CASE WHEN %(set_header_name)s THEN %(header_name)s ELSE header_name END,
       header_regex = CASE WHEN %(set_header_regex)s THEN %(header_regex)s ELSE header_regex END,
       header_mode = CASE WHEN %(set_header_mode)s THEN %(header_mode)s ELSE header_mode END,
       regex_mode = CASE WHEN %(set_regex_mode)s THEN %(regex_mode)s ELSE regex_mode END
 WHERE id = %(site_id)s
RETURNING id

-- api_delete_site --
DELETE FROM sites WHERE id = %(site_id)s RETURNING id

-- status_summary --
-- Enabled sites up, down, and not checked yet; disabled sites.
SELECT count(*) FILTER (WHERE s.enabled AND st.up),
       count(*) FILTER (WHERE s.enabled AND NOT st.up),
       count(*) FILTER (WHERE s.enabled AND st.site_id IS NULL),
       count(*) FILTER (WHERE NOT s.enabled)
  FROM sites s
  LEFT JOIN site_status st ON st.site_id = s.id
