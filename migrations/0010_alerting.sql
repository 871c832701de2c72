-- Alerting: incidents with thresholds, channels and routing, maintenance windows, and the
-- notifications outbox the notifier sends from.

-- An incident opens after `failure_threshold` consecutive down checks and resolves after
-- `success_threshold` consecutive up checks (Gatus' failure-threshold 3 and
-- success-threshold 2 are the defaults; a recovery threshold keeps a flapping site from
-- paging UP/DOWN on every check). Missed slots are no checks and count neither way.
-- While an incident stays open, a reminder is sent every `reminder_interval_seconds`
-- (NULL: none). `tags` name the groups a maintenance window can cover.
ALTER TABLE sites
    ADD COLUMN failure_threshold smallint NOT NULL DEFAULT 3,
    ADD COLUMN success_threshold smallint NOT NULL DEFAULT 2,
    ADD COLUMN reminder_interval_seconds integer,
    ADD COLUMN tags text[] NOT NULL DEFAULT '{}',
    ADD CONSTRAINT sites_failure_threshold_range CHECK (failure_threshold BETWEEN 1 AND 100),
    ADD CONSTRAINT sites_success_threshold_range CHECK (success_threshold BETWEEN 1 AND 100),
    ADD CONSTRAINT sites_reminder_range
        CHECK (reminder_interval_seconds IS NULL
               OR reminder_interval_seconds BETWEEN 60 AND 7 * 86400),
    ADD CONSTRAINT sites_tags_valid
        CHECK (cardinality(tags) <= 20 AND array_position(tags, NULL) IS NULL);

-- One row per incident. `opened_at` is the slot of the first down check of the run that
-- opened it, `opening_slot` the check that reached the failure threshold (when it was
-- declared); `resolved_at` the slot of the first up check of the run that resolved it,
-- `resolving_slot` the check that reached the success threshold. The cause is that of the
-- first down check: its error class, or its status code. The writer keeps this table a
-- function of the site's checks in slot order, whatever order they arrived in.
CREATE TABLE incidents (
    id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    site_id              bigint NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    opened_at            timestamptz NOT NULL,
    opening_slot         timestamptz NOT NULL,
    opening_checked_at   timestamptz NOT NULL,
    cause                text NOT NULL,
    status_code          smallint,
    error                text,
    error_detail         text,
    resolved_at          timestamptz,
    resolving_slot       timestamptz,
    resolving_checked_at timestamptz,
    created_at           timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT incidents_opening_order CHECK (opened_at <= opening_slot),
    CONSTRAINT incidents_resolved_whole
        CHECK ((resolved_at IS NULL) = (resolving_slot IS NULL)
               AND (resolved_at IS NULL) = (resolving_checked_at IS NULL)),
    CONSTRAINT incidents_resolving_order
        CHECK (resolved_at IS NULL OR (opening_slot < resolved_at AND resolved_at <= resolving_slot)),
    -- At most one open incident per site, checked at commit: a recount may resolve one and
    -- reopen another in the same transaction.
    CONSTRAINT incidents_one_open EXCLUDE (site_id WITH =) WHERE (resolved_at IS NULL)
        DEFERRABLE INITIALLY DEFERRED
);
CREATE INDEX incidents_site_opened ON incidents (site_id, opened_at);
CREATE INDEX incidents_recent ON incidents (opened_at DESC);
CREATE INDEX incidents_open ON incidents (site_id) WHERE resolved_at IS NULL;

-- Where each site's threshold walk stands after its latest check (`last_slot`): the
-- writer continues from here when a batch brings only later checks, and recounts from
-- the checks themselves otherwise. `site_status.alerting` mirrors "this site has a down
-- streak or an open incident", so that the writer skips every other site without a lookup.
CREATE TABLE site_alert_state (
    site_id          bigint PRIMARY KEY REFERENCES sites (id) ON DELETE CASCADE,
    last_slot        timestamptz NOT NULL,
    down_streak      integer NOT NULL DEFAULT 0,
    -- The first down check of the current streak (the incident's opening and cause).
    down_since       timestamptz,
    down_status_code smallint,
    down_error       text,
    down_detail      text,
    up_streak        integer NOT NULL DEFAULT 0,
    up_since         timestamptz,
    open_incident_id bigint REFERENCES incidents (id) ON DELETE SET NULL
);
ALTER TABLE site_alert_state SET (fillfactor = 70);
ALTER TABLE site_status ADD COLUMN alerting boolean NOT NULL DEFAULT false;

-- A channel is a named configuration. `config` holds what is not secret (a URL, a chat
-- id, SMTP host and addresses); `secret` the HMAC key, bot token, access token, SMTP
-- password or apprise URL, which is never logged nor returned by the API. A default
-- channel is notified for every site that has no routing of its own.
CREATE TABLE channels (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       text NOT NULL UNIQUE,
    kind       text NOT NULL,
    config     jsonb NOT NULL DEFAULT '{}',
    secret     text,
    is_default boolean NOT NULL DEFAULT false,
    enabled    boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT channels_name_length CHECK (length(name) BETWEEN 1 AND 100),
    CONSTRAINT channels_kind
        CHECK (kind IN ('webhook', 'slack', 'discord', 'telegram', 'ntfy', 'email', 'apprise')),
    CONSTRAINT channels_config_object
        CHECK (jsonb_typeof(config) = 'object' AND length(config::text) <= 8192),
    CONSTRAINT channels_secret_length CHECK (secret IS NULL OR length(secret) BETWEEN 1 AND 4096)
);

-- Routing: a site with rows here notifies those channels, and no default one.
CREATE TABLE site_channels (
    site_id    bigint NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    channel_id bigint NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    PRIMARY KEY (site_id, channel_id)
);
CREATE INDEX site_channels_channel ON site_channels (channel_id);

-- Maintenance windows (Checkmate's idea of one-off and repeating windows): one site, the
-- sites with a tag, or all sites (neither set). A recurring window repeats every day or
-- week from `starts_at` (UTC: no daylight saving shift) for `duration_seconds`, and no
-- occurrence starts after `until`. Inside one, incidents are still recorded, their
-- notifications are held (`suppressed`); the notifier releases a held DOWN once the
-- window is over if the incident is still open.
CREATE TABLE maintenance_windows (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name             text NOT NULL,
    site_id          bigint REFERENCES sites (id) ON DELETE CASCADE,
    tag              text,
    starts_at        timestamptz NOT NULL,
    duration_seconds integer NOT NULL,
    recurrence       text NOT NULL DEFAULT 'none',
    until            timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT maintenance_windows_name_length CHECK (length(name) BETWEEN 1 AND 200),
    CONSTRAINT maintenance_windows_one_scope CHECK (site_id IS NULL OR tag IS NULL),
    CONSTRAINT maintenance_windows_recurrence CHECK (recurrence IN ('none', 'daily', 'weekly')),
    CONSTRAINT maintenance_windows_duration
        CHECK (duration_seconds > 0 AND duration_seconds <= CASE recurrence
                   WHEN 'daily' THEN 86400 WHEN 'weekly' THEN 7 * 86400 ELSE 366 * 86400 END),
    CONSTRAINT maintenance_windows_until CHECK (until IS NULL OR until >= starts_at)
);
CREATE INDEX maintenance_windows_site ON maintenance_windows (site_id);

-- The outbox. The writer inserts a notification, one per channel, in the transaction
-- that opens or resolves the incident; notifier replicas claim due rows with
-- FOR UPDATE SKIP LOCKED and a lease (`claimed_until`, also the row's `next_attempt_at`,
-- so that an expired lease makes it due again), send, then mark it sent. A send that
-- fails waits `next_attempt_at` (capped exponential backoff with jitter); after the retry
-- budget the row is `failed`. `idempotency_key` is the event's, the same on every channel
-- and every attempt: a receiver drops the duplicate a crash between send and mark causes.
CREATE TABLE notifications (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    idempotency_key text NOT NULL,
    channel_id      bigint NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    site_id         bigint REFERENCES sites (id) ON DELETE CASCADE,
    incident_id     bigint REFERENCES incidents (id) ON DELETE CASCADE,
    kind            text NOT NULL,
    -- When the event happened: the check that opened or resolved the incident.
    event_at        timestamptz NOT NULL,
    state           text NOT NULL DEFAULT 'pending',
    attempts        integer NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now(),
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    claimed_by      text,
    claimed_until   timestamptz,
    sent_at         timestamptz,
    last_error      text,
    CONSTRAINT notifications_kind CHECK (kind IN ('down', 'resolved', 'reminder', 'test')),
    CONSTRAINT notifications_state CHECK (state IN ('pending', 'sent', 'failed', 'suppressed')),
    CONSTRAINT notifications_sent_at CHECK ((state = 'sent') = (sent_at IS NOT NULL)),
    CONSTRAINT notifications_key_length CHECK (length(idempotency_key) BETWEEN 1 AND 200),
    CONSTRAINT notifications_once UNIQUE (idempotency_key, channel_id)
);
-- The claim: its WHERE and ORDER BY.
CREATE INDEX notifications_due ON notifications (next_attempt_at) WHERE state = 'pending';
CREATE INDEX notifications_incident ON notifications (incident_id);
CREATE INDEX notifications_held ON notifications (site_id) WHERE state = 'suppressed';
CREATE INDEX notifications_failed ON notifications (created_at) WHERE state = 'failed';
