-- On-demand tasks name their region (docs/regions.md, "On demand"): a task is performed by
-- the checkers of one region, from that region's on-demand topic. A check from every
-- region of a site is one task per region, submitted together: they share `request_id`
-- (the first task's id), and only the first keeps the submission's Idempotency-Key, so
-- that a retried submission finds all of them through it.
--
-- Existing tasks ran where the shared on-demand topic put them, which they did not record:
-- they read as the default region's, and as requests of their own (`request_id` NULL).
--
-- `restricted`: the task is checked under the target policy, as every task was before. A
-- task is not restricted only when what it checks is the operator's: a URL the operator
-- submitted (the CLI), or a "check now" of a site the operator registered.
ALTER TABLE tasks
    ADD COLUMN region text NOT NULL DEFAULT 'default',
    ADD COLUMN request_id uuid,
    ADD COLUMN restricted boolean NOT NULL DEFAULT true,
    ADD CONSTRAINT tasks_region CHECK (webmon_valid_regions(ARRAY[region]));

-- A request's tasks, for a retried submission and a site's latest "check now".
CREATE INDEX tasks_request ON tasks (request_id) WHERE request_id IS NOT NULL;
