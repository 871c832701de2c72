-- Security's functions: the notice that makes API processes forget their cached keys.

-- Every API process LISTENs on `webmon_keys` (webmon.core.keys) and drops its cache of
-- looked-up keys on a notice; triggers on api_keys send it (migration 0017).
CREATE OR REPLACE FUNCTION webmon_keys_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('webmon_keys', '');
    RETURN NULL;
END
$$;
