-- The HTTP API: keys, sites submitted by untrusted users, and on-demand check tasks.

-- API keys. Only a SHA-256 of each key is kept: a key is 32 random bytes, so a fast hash
-- cannot be reversed by guessing (a password needs a slow one; a key does not). `prefix`
-- is the key's first characters, shown to tell keys apart.
CREATE TABLE api_keys (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name         text NOT NULL,
    scope        text NOT NULL,
    prefix       text NOT NULL,
    sha256       bytea NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz,
    last_used_at timestamptz,
    CONSTRAINT api_keys_scope CHECK (scope IN ('read', 'write', 'admin')),
    CONSTRAINT api_keys_name_length CHECK (length(name) BETWEEN 1 AND 100)
);
-- One live key per name, so that `webmon keys revoke NAME` means one key.
CREATE UNIQUE INDEX api_keys_live_name ON api_keys (name) WHERE revoked_at IS NULL;

-- A site registered through the API is checked under the target policy
-- (WEBMON_BLOCKED_NETWORKS): it may not reach the operator's internal network. Sites
-- registered with SQL or the CLI are the operator's own.
ALTER TABLE sites ADD COLUMN restricted boolean NOT NULL DEFAULT false;

-- On-demand checks. NEW (1) when accepted, PROCESSING (2) when a checker started it,
-- COMPLETED (3) when it produced a result (up or down), ERROR (4) when it could not be
-- performed (expired, blocked by the target policy). A status only moves forward and a
-- final one never changes: every update says `WHERE status < new status`.
CREATE TABLE tasks (
    task_id          uuid PRIMARY KEY,
    key_id           bigint REFERENCES api_keys (id) ON DELETE SET NULL,
    name             text NOT NULL,
    url              text NOT NULL,
    regex            text,
    timeout_seconds  double precision NOT NULL,
    method           text NOT NULL DEFAULT 'GET',
    headers          jsonb,
    status           smallint NOT NULL DEFAULT 1,
    created_at       timestamptz NOT NULL DEFAULT now(),
    -- When the scheduler handed it to Kafka; NULL while NEW and not yet emitted.
    emitted_at       timestamptz,
    -- A task no checker started by then is not checked: ERROR, expired.
    expires_at       timestamptz NOT NULL,
    started_at       timestamptz,
    finished_at      timestamptz,
    -- The check's result, the fields of a check_results row; NULL until final.
    result           jsonb,
    idempotency_key  text,
    CONSTRAINT tasks_status CHECK (status BETWEEN 1 AND 4),
    CONSTRAINT tasks_final_is_finished CHECK ((status >= 3) = (finished_at IS NOT NULL)),
    CONSTRAINT tasks_name_length CHECK (length(name) BETWEEN 1 AND 200),
    CONSTRAINT tasks_url_http CHECK (url ~* '^https?://[^/?#@]'),
    CONSTRAINT tasks_url_length CHECK (length(url) <= 2048),
    CONSTRAINT tasks_url_no_whitespace CHECK (url !~ '[[:space:][:cntrl:]]'),
    CONSTRAINT tasks_url_no_userinfo CHECK (url !~ '^[A-Za-z]+://[^/?#]*@'),
    CONSTRAINT tasks_timeout_range CHECK (timeout_seconds > 0 AND timeout_seconds <= 60),
    CONSTRAINT tasks_regex_length CHECK (regex IS NULL OR length(regex) BETWEEN 1 AND 1000),
    CONSTRAINT tasks_method CHECK (method IN ('GET', 'HEAD')),
    CONSTRAINT tasks_head_without_regex CHECK (method = 'GET' OR regex IS NULL),
    CONSTRAINT tasks_headers_valid CHECK (webmon_valid_headers(headers)),
    CONSTRAINT tasks_idempotency_key_length
        CHECK (idempotency_key IS NULL OR length(idempotency_key) BETWEEN 1 AND 200)
);

-- A retried POST with the same Idempotency-Key (per API key) finds its task.
CREATE UNIQUE INDEX tasks_idempotency ON tasks (key_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
-- The scheduler's claim of accepted tasks: its WHERE and ORDER BY.
CREATE INDEX tasks_to_emit ON tasks (created_at) WHERE status = 1 AND emitted_at IS NULL;
-- Tasks not final yet: the sweep of expired ones, and a key's tasks in flight.
CREATE INDEX tasks_open ON tasks (expires_at) WHERE status < 3;
CREATE INDEX tasks_key_open ON tasks (key_id) WHERE status < 3;
-- A key's recent tasks (its rate limit), and the list, newest first.
CREATE INDEX tasks_key_created ON tasks (key_id, created_at);
CREATE INDEX tasks_created ON tasks (created_at DESC, task_id DESC);
-- Retention drops finished tasks by age.
CREATE INDEX tasks_finished ON tasks (finished_at) WHERE finished_at IS NOT NULL;
