-- Incidents' causes in the words every surface now uses (shared/causes.py): "HTTP 503"
-- rather than "status 503", and "regex did not match · HTTP 200" rather than
-- "regex_mismatch". Error classes ("timeout", "dns", ...) are unchanged.
UPDATE incidents
   SET cause = 'HTTP ' || status_code
 WHERE cause = 'status ' || status_code;

UPDATE incidents
   SET cause = 'regex did not match' || coalesce(' · HTTP ' || status_code, '')
 WHERE cause = 'regex_mismatch';
