-- Dashboard users, their one-time login links, and the key that signs their sessions: the
-- statements of webmon.core.users.

-- add_user --
INSERT INTO users (name, password_hash) VALUES (%(name)s, %(password_hash)s)
    ON CONFLICT (name) DO UPDATE SET password_hash = EXCLUDED.password_hash, disabled_at = NULL
RETURNING id

-- count_users --
SELECT count(*) AS users FROM users

-- user_by_name --
SELECT id, name, password_hash FROM users WHERE name = %(name)s AND disabled_at IS NULL

-- user_by_id --
SELECT id, name FROM users WHERE id = %(user_id)s AND disabled_at IS NULL

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

-- secret --
-- The dashboard's signing key: the first process that asks makes it, every later one
-- reads the same.
WITH made AS (
    INSERT INTO webmon_secrets (name, secret) VALUES (%(name)s, %(candidate)s)
        ON CONFLICT (name) DO NOTHING
    RETURNING secret
)
SELECT secret FROM made
 UNION ALL
SELECT secret FROM webmon_secrets WHERE name = %(name)s
 LIMIT 1
