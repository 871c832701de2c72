-- The latest result per site. The writer replaces a row only with a result for a later slot,
-- so a late or redelivered result never overwrites a newer one.
CREATE TABLE site_status (
    site_id          bigint PRIMARY KEY REFERENCES sites (id) ON DELETE CASCADE,
    url              text NOT NULL,
    scheduled_at     timestamptz NOT NULL,
    checked_at       timestamptz NOT NULL,
    response_time_ms double precision,
    status_code      smallint,
    up               boolean NOT NULL,
    regex_matched    boolean,
    error            text,
    error_detail     text,
    updated_at       timestamptz NOT NULL DEFAULT now()
);

-- Every result updates its site's row; room on each page lets those be HOT updates
-- (site_id, the only indexed column, never changes). Measured: upsert 1.23 s -> 0.80 s
-- per 100k results.
ALTER TABLE site_status SET (fillfactor = 70);
