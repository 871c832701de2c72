-- API keys: the statements of webmon.core.keys. Only a key's SHA-256 is stored.

-- create_key --
INSERT INTO api_keys (name, scope, prefix, sha256)
     VALUES (%(name)s, %(scope)s, %(prefix)s, %(sha256)s)
  RETURNING id, name, scope, prefix, created_at, last_used_at, revoked_at

-- keys --
SELECT id, name, scope, prefix, created_at, last_used_at, revoked_at
  FROM api_keys
 ORDER BY id

-- revoke_key --
-- KEY is an id when it is all digits, else a name (of the live key with that name).
UPDATE api_keys SET revoked_at = now()
 WHERE revoked_at IS NULL AND (id = %(key_id)s OR name = %(name)s)
RETURNING id, name

-- key_by_hash --
-- The live key with this hash; notes when it was last used (at most once a minute, so that
-- a busy key does not write on every request).
WITH found AS (
    SELECT id, name, scope FROM api_keys WHERE sha256 = %(sha256)s AND revoked_at IS NULL
), touched AS (
    UPDATE api_keys k SET last_used_at = now()
      FROM found f
     WHERE k.id = f.id AND (k.last_used_at IS NULL OR k.last_used_at < now() - interval '1 minute')
)
SELECT id, name, scope FROM found
