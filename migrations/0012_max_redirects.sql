-- A site's own redirect limit: NULL follows the checker's WEBMON_MAX_REDIRECTS (default 10).
-- Within 0-30, the setting's own bounds. A nullable column without a default touches only
-- the catalog; the CHECK reads sites once.
ALTER TABLE sites
    ADD COLUMN max_redirects smallint,
    ADD CONSTRAINT sites_max_redirects_range CHECK (max_redirects BETWEEN 0 AND 30);
