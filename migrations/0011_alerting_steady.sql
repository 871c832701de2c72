-- site_status.alerting, from "the writer walks this site's up results" (0010's boolean)
-- to which later results the writer may skip without a lookup: 0 clean (no down streak,
-- nothing open: up results change nothing), 2 an open incident with no up check since its
-- last down (down results change nothing), 1 anything else (every result is walked).
-- A site marked true becomes 1, walked until its next walk says more.
ALTER TABLE site_status
    ALTER COLUMN alerting DROP DEFAULT,
    ALTER COLUMN alerting TYPE smallint USING (CASE WHEN alerting THEN 1 ELSE 0 END),
    ALTER COLUMN alerting SET DEFAULT 0,
    ADD CONSTRAINT site_status_alerting CHECK (alerting BETWEEN 0 AND 2);
