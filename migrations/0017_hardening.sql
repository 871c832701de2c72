-- Hardening of the API and the dashboard: key changes take effect at once.

-- Any change to a key that matters (created, revoked or re-scoped with SQL, deleted) tells
-- every API process to forget its cached keys, as `webmon keys revoke` does: an UPDATE
-- with SQL takes effect within a second, not after the cache's 30 s. (Not the touch of
-- `last_used_at`, which changes nothing a lookup returns.)
CREATE FUNCTION webmon_keys_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('webmon_keys', '');
    RETURN NULL;
END
$$;
CREATE TRIGGER api_keys_changed
    AFTER INSERT OR DELETE OR UPDATE OF name, scope, sha256, revoked_at ON api_keys
    FOR EACH STATEMENT EXECUTE FUNCTION webmon_keys_changed();
CREATE TRIGGER api_keys_truncated AFTER TRUNCATE ON api_keys
    FOR EACH STATEMENT EXECUTE FUNCTION webmon_keys_changed();

-- A channel's secret sealed with WEBMON_SECRET_KEY, bound to the channel's id and kind
-- (shared.sealing): whoever writes a secret (the API, the dashboard, the CLI) seals it,
-- and only a process with the key (the notifier, a test send) opens it. `secret` keeps
-- what was written in clear before, until an API process with the key seals it.
ALTER TABLE channels
    ADD COLUMN secret_sealed bytea,
    ADD CONSTRAINT channels_one_secret CHECK (secret IS NULL OR secret_sealed IS NULL);

-- Dashboard sessions that can be ended: a session cookie carries its user's
-- `session_version`, and logging out, a new password and `webmon users disable` bump it,
-- which ends every session of that user at once. Failed logins are counted per account:
-- after too many, the account is locked until `locked_until` (webmon.core.users).
ALTER TABLE users
    ADD COLUMN session_version integer NOT NULL DEFAULT 1,
    ADD COLUMN failed_logins integer NOT NULL DEFAULT 0,
    ADD COLUMN locked_until timestamptz;

-- The dashboard's signing key sealed with WEBMON_SECRET_KEY (shared.sealing): a reader of
-- the database cannot forge a session. A key kept in clear before is sealed in place by
-- the first API process with WEBMON_SECRET_KEY (so badge URLs stay the same).
ALTER TABLE webmon_secrets ADD COLUMN sealed boolean NOT NULL DEFAULT false;
