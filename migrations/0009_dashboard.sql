-- The web dashboard: its users, one-time login links, the signing key it shares between
-- API processes, sites shown on the public status page, and tasks submitted from it.

-- Users of the dashboard (`webmon users add NAME`). Only an argon2id hash of each password
-- is kept: memory-hard, salted, with its parameters in the string.
CREATE TABLE users (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name          text NOT NULL UNIQUE,
    password_hash text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    disabled_at   timestamptz,
    CONSTRAINT users_name CHECK (name ~ '^[A-Za-z0-9._@-]{1,100}$')
);

-- One-time login links (`make run` prints one): a SHA-256 of the token, used once.
CREATE TABLE login_links (
    sha256     bytea PRIMARY KEY,
    user_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at timestamptz NOT NULL,
    used_at    timestamptz
);

-- Keys the API processes must share: the dashboard's sessions, CSRF tokens and badge
-- tokens are signed with `dashboard`, made at random by the first process that needs it.
CREATE TABLE webmon_secrets (
    name       text PRIMARY KEY,
    secret     bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Sites an operator marks public appear on /status, with no login.
ALTER TABLE sites ADD COLUMN public boolean NOT NULL DEFAULT false;

-- A task submitted from the dashboard belongs to its user (and counts against that
-- user's limits) rather than to an API key.
ALTER TABLE tasks ADD COLUMN user_id bigint REFERENCES users (id) ON DELETE SET NULL;
CREATE INDEX tasks_user_open ON tasks (user_id) WHERE status < 3 AND user_id IS NOT NULL;
CREATE INDEX tasks_user_created ON tasks (user_id, created_at) WHERE user_id IS NOT NULL;
