-- Dashboard users, their one-time login links, sessions and failed logins, and the key that
-- signs their sessions: the statements of webmon.core.users.

-- add_user --
-- A new password for an existing user ends their sessions (and any lockout).
INSERT INTO users (name, password_hash) VALUES (%(name)s, %(password_hash)s)
    ON CONFLICT (name) DO UPDATE
   SET password_hash = EXCLUDED.password_hash, disabled_at = NULL,
       session_version = users.session_version + 1, failed_logins = 0, locked_until = NULL
RETURNING id

-- count_users --
SELECT count(*) AS users FROM users

-- user_by_name --
-- `locked_for_s`: how long the account stays locked after failed logins (0: not locked).
SELECT id, name, password_hash, session_version,
       greatest(0, extract(epoch FROM locked_until - now()))::float8 AS locked_for_s
  FROM users
 WHERE name = %(name)s AND disabled_at IS NULL

-- user_by_id --
SELECT id, name, session_version FROM users WHERE id = %(user_id)s AND disabled_at IS NULL

-- end_sessions --
-- Every session cookie issued to the user carries the old version: none works any more.
UPDATE users SET session_version = session_version + 1 WHERE id = %(user_id)s

-- disable_user --
UPDATE users SET disabled_at = now(), session_version = session_version + 1
 WHERE name = %(name)s AND disabled_at IS NULL
RETURNING id

-- login_failed --
-- One more failed login in a row; at `limit`, the account is locked for `lockout` (and
-- again at each failure after, until a login succeeds).
UPDATE users
   SET failed_logins = failed_logins + 1,
       locked_until = CASE WHEN failed_logins + 1 >= %(limit)s
                           THEN now() + %(lockout)s::interval ELSE locked_until END
 WHERE id = %(user_id)s
RETURNING failed_logins

-- login_succeeded --
UPDATE users SET failed_logins = 0, locked_until = NULL
 WHERE id = %(user_id)s AND (failed_logins > 0 OR locked_until IS NOT NULL)

-- rehash_user --
UPDATE users SET password_hash = %(password_hash)s WHERE id = %(user_id)s

-- create_login_link --
INSERT INTO login_links (sha256, user_id, expires_at)
     VALUES (%(sha256)s, %(user_id)s, now() + %(valid_for)s::interval)

-- use_login_link --
-- A link works once, before it expires.
UPDATE login_links SET used_at = now()
 WHERE sha256 = %(sha256)s AND used_at IS NULL AND expires_at > now()
RETURNING user_id

-- signing_key --
-- The dashboard's signing key, sealed (or in clear from before sealing existed).
SELECT secret, sealed FROM webmon_secrets WHERE name = %(name)s

-- make_signing_key --
-- The first process that asks makes it; every later one reads the same.
INSERT INTO webmon_secrets (name, secret, sealed) VALUES (%(name)s, %(sealed)s, true)
    ON CONFLICT (name) DO NOTHING
RETURNING name

-- seal_signing_key --
-- A key kept in clear before, sealed in place (the same key: badge URLs stay valid).
UPDATE webmon_secrets SET secret = %(sealed)s, sealed = true
 WHERE name = %(name)s AND NOT sealed AND secret = %(clear)s
