-- Waking the schedulers: a site that becomes due sooner than they planned (a new site, one
-- enabled again, one moved earlier) or checked more often notifies the channel
-- `webmon_sites`, which every scheduler listens on between claims. A claim moves
-- next_check_at later and notifies nothing. PostgreSQL delivers one notification per
-- channel and payload per transaction, so a bulk insert wakes them once.
CREATE OR REPLACE FUNCTION webmon_wake_schedulers() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('webmon_sites', '');
    RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS sites_wake_on_insert ON sites;
CREATE TRIGGER sites_wake_on_insert AFTER INSERT ON sites
    FOR EACH STATEMENT EXECUTE FUNCTION webmon_wake_schedulers();

DROP TRIGGER IF EXISTS sites_wake_on_update ON sites;
CREATE TRIGGER sites_wake_on_update
    AFTER UPDATE OF next_check_at, enabled, interval_seconds ON sites
    FOR EACH ROW
    WHEN (NEW.enabled AND (NOT OLD.enabled OR NEW.next_check_at < OLD.next_check_at
                           OR NEW.interval_seconds < OLD.interval_seconds))
    EXECUTE FUNCTION webmon_wake_schedulers();

-- An accepted on-demand task wakes the schedulers at once on its own channel: they emit it
-- before they look at due sites.
CREATE OR REPLACE FUNCTION webmon_wake_for_tasks() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('webmon_tasks', '');
    RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS tasks_wake_on_insert ON tasks;
CREATE TRIGGER tasks_wake_on_insert AFTER INSERT ON tasks
    FOR EACH STATEMENT EXECUTE FUNCTION webmon_wake_for_tasks();
