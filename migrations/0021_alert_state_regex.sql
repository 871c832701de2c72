-- Where a site's incident walk stands keeps whether its first down check's regex matched,
-- as it keeps that check's status and error: an incident that opened in a later batch than
-- the check that began its down streak read "HTTP 200" where the check had said "regex did
-- not match · HTTP 200" (shared/causes.py).
ALTER TABLE site_alert_state ADD COLUMN down_regex_matched boolean;

-- The incidents that opened so: their first down check, where it is still a raw row,
-- gives their cause again.
UPDATE incidents i
   SET cause = CASE WHEN c.regex_matched THEN i.cause || ' · regex found'
                    ELSE 'regex did not match · ' || i.cause END
  FROM (SELECT DISTINCT ON (site_id, scheduled_at) site_id, scheduled_at, regex_matched
          FROM check_results
         WHERE up = false AND error IS NULL AND regex_matched IS NOT NULL
         ORDER BY site_id, scheduled_at, region) AS c
 WHERE c.site_id = i.site_id AND c.scheduled_at = i.opened_at
   AND i.error IS NULL AND i.cause = 'HTTP ' || i.status_code;
