-- Notification channels and the sites routed to them: the statements of
-- webmon.core.channels. A channel's secret is written here sealed (`secret_sealed`; a
-- secret from before sealing may remain in clear in `secret` until it is sealed) and read
-- only to send (never shown: the reads say whether there is one).

-- add_channel --
INSERT INTO channels (name, kind, config, is_default, enabled)
     VALUES (%(name)s, %(kind)s, %(config)s, %(is_default)s, %(enabled)s)
  RETURNING id

-- channels --
-- Never the secret: only whether there is one. `sites`: the sites routed to it.
SELECT c.id, c.name, c.kind, c.config,
       (c.secret IS NOT NULL OR c.secret_sealed IS NOT NULL) AS has_secret, c.is_default,
       c.enabled, c.created_at,
       (SELECT count(*) FROM site_channels sc WHERE sc.channel_id = c.id) AS sites
  FROM channels c
 WHERE (%(channel_id)s::bigint IS NULL OR c.id = %(channel_id)s)
   AND (%(name)s::text IS NULL OR c.name = %(name)s)
 ORDER BY c.id

-- channel_to_send --
-- A channel with its secret (sealed, or in clear from before), to send a test through it.
SELECT id, name, kind, config, secret, secret_sealed FROM channels WHERE id = %(channel_id)s

-- channel_for_change --
-- What a change is judged against: where it sends now, and whether it has a secret.
SELECT kind, config, (secret IS NOT NULL OR secret_sealed IS NOT NULL) AS has_secret
  FROM channels WHERE id = %(channel_id)s
   FOR UPDATE

-- update_channel --
-- A secret given replaces the old one (sealed; NULL removes it).
UPDATE channels
   SET name = CASE WHEN %(set_name)s THEN %(name)s ELSE name END,
       config = CASE WHEN %(set_config)s THEN %(config)s ELSE config END,
       secret = CASE WHEN %(set_secret)s THEN NULL ELSE secret END,
       secret_sealed = CASE WHEN %(set_secret)s THEN %(sealed)s ELSE secret_sealed END,
       is_default = CASE WHEN %(set_default)s THEN %(is_default)s ELSE is_default END,
       enabled = CASE WHEN %(set_enabled)s THEN %(enabled)s ELSE enabled END
 WHERE id = %(channel_id)s
RETURNING id

-- seal_channel_secret --
UPDATE channels SET secret_sealed = %(sealed)s, secret = NULL WHERE id = %(channel_id)s

-- clear_channel_secrets --
-- Secrets written in clear before they were sealed.
SELECT id, kind, secret FROM channels WHERE secret IS NOT NULL ORDER BY id

-- seal_channel_secrets --
-- Each only if it is still the clear one that was read (another process may have sealed
-- or replaced it meanwhile).
UPDATE channels c SET secret_sealed = s.sealed, secret = NULL
  FROM unnest(%(ids)s::bigint[], %(clear)s::text[], %(sealed)s::bytea[]) AS s(id, clear, sealed)
 WHERE c.id = s.id AND c.secret = s.clear

-- delete_channel --
DELETE FROM channels WHERE id = %(channel_id)s RETURNING id

-- channel_ids --
SELECT id, name FROM channels WHERE name = ANY(%(names)s::text[])

-- route_site --
INSERT INTO site_channels (site_id, channel_id)
SELECT %(site_id)s, unnest(%(channel_ids)s::bigint[])
    ON CONFLICT DO NOTHING

-- unroute_site --
DELETE FROM site_channels WHERE site_id = %(site_id)s

-- site_routes --
-- The channels a site notifies: its own routes, or the default channels without them.
SELECT c.name FROM webmon_routes(%(site_id)s) AS r(id) JOIN channels c ON c.id = r.id
 ORDER BY c.name

-- site_own_routes --
-- The channels routed to a site itself (none: it notifies the default channels).
SELECT c.name FROM site_channels sc JOIN channels c ON c.id = sc.channel_id
 WHERE sc.site_id = %(site_id)s
 ORDER BY c.name
