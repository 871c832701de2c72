-- Status pages (issue 26, part B): several public pages, each a slug, a title, a
-- description, a logo, and its sites in named groups, chosen one by one or by tag; and
-- the incidents an operator tells the page's readers about, with their updates
-- (investigating → identified → monitoring → resolved) and a post-mortem. The idea of
-- incident updates on a status page follows Atlassian Statuspage and Uptime Kuma's
-- status-page incidents. And the certificate warning: a notification when a site's TLS
-- certificate comes within `cert_expiry_days` of its expiry.

-- The sites' names and tags are 0018's (sites.name, sites.tags).

CREATE TABLE status_pages (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    slug        text NOT NULL UNIQUE,
    title       text NOT NULL,
    description text NOT NULL DEFAULT '',
    logo_url    text,
    -- How many days each site's bar shows (louislam/uptime-kuma#1888: a page's setting).
    days_shown  integer NOT NULL DEFAULT 90,
    -- Whether the page prints its sites' URLs beside their names (never, unless asked).
    show_urls   boolean NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT status_pages_slug CHECK (slug ~ '^[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?$'),
    CONSTRAINT status_pages_title_length CHECK (length(title) BETWEEN 1 AND 200),
    CONSTRAINT status_pages_description_length CHECK (length(description) <= 2000),
    CONSTRAINT status_pages_logo_url
        CHECK (logo_url IS NULL OR (logo_url ~ '^https?://[^\s]+$' AND length(logo_url) <= 2000)),
    CONSTRAINT status_pages_days_shown CHECK (days_shown BETWEEN 1 AND 365)
);

-- A page's groups, in order: the sites named one by one (`site_ids`, in that order; a
-- deleted site drops out when the page is read) and those carrying `tag`.
CREATE TABLE status_page_groups (
    page_id  bigint NOT NULL REFERENCES status_pages (id) ON DELETE CASCADE,
    position integer NOT NULL,
    name     text NOT NULL,
    site_ids bigint[] NOT NULL DEFAULT '{}',
    tag      text,
    PRIMARY KEY (page_id, position),
    CONSTRAINT status_page_groups_name_length CHECK (length(name) BETWEEN 1 AND 200),
    CONSTRAINT status_page_groups_tag_valid CHECK (tag IS NULL OR webmon_tag_valid(tag)),
    CONSTRAINT status_page_groups_site_count CHECK (cardinality(site_ids) <= 5000)
);
CREATE INDEX status_page_groups_site_ids ON status_page_groups USING gin (site_ids);

-- What the page tells its readers: opened by hand, or from a detected incident
-- (`incident_id`). `status` is the latest update's.
CREATE TABLE status_page_incidents (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    page_id     bigint NOT NULL REFERENCES status_pages (id) ON DELETE CASCADE,
    title       text NOT NULL,
    status      text NOT NULL,
    site_ids    bigint[] NOT NULL DEFAULT '{}',
    incident_id bigint REFERENCES incidents (id) ON DELETE SET NULL,
    postmortem  text,
    opened_at   timestamptz NOT NULL DEFAULT now(),
    resolved_at timestamptz,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT status_page_incidents_title_length CHECK (length(title) BETWEEN 1 AND 200),
    CONSTRAINT status_page_incidents_status
        CHECK (status IN ('investigating', 'identified', 'monitoring', 'resolved')),
    CONSTRAINT status_page_incidents_resolved
        CHECK ((status = 'resolved') = (resolved_at IS NOT NULL)),
    CONSTRAINT status_page_incidents_postmortem
        CHECK (postmortem IS NULL OR (resolved_at IS NOT NULL AND length(postmortem) <= 50000))
);
CREATE INDEX status_page_incidents_page ON status_page_incidents (page_id, opened_at DESC);

CREATE TABLE status_page_updates (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    incident_id bigint NOT NULL REFERENCES status_page_incidents (id) ON DELETE CASCADE,
    status      text NOT NULL,
    body        text NOT NULL,
    posted_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT status_page_updates_status
        CHECK (status IN ('investigating', 'identified', 'monitoring', 'resolved')),
    CONSTRAINT status_page_updates_body_length CHECK (length(body) BETWEEN 1 AND 20000)
);
CREATE INDEX status_page_updates_incident ON status_page_updates (incident_id, posted_at);


-- The certificate warning (checker/writer/queries.sql, queue_certificate_warnings): once
-- per certificate (its expiry) and threshold, through the same outbox as incidents;
-- `event_at` is the certificate's expiry.
ALTER TABLE sites
    ADD COLUMN cert_expiry_days integer NOT NULL DEFAULT 14,
    ADD CONSTRAINT sites_cert_expiry_days CHECK (cert_expiry_days BETWEEN 1 AND 365);
ALTER TABLE notifications
    DROP CONSTRAINT notifications_kind,
    ADD CONSTRAINT notifications_kind
        CHECK (kind IN ('down', 'resolved', 'reminder', 'test', 'certificate'));
