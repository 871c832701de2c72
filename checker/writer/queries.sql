-- Named queries of the checker's result writer (checker/writer/store.py), loaded once by
-- shared.queries.load_queries. Each block is the whole statement that runs (copy_staging with
-- its column list filled in).

-- create_staging --
-- Per connection; emptied by every commit. One batch of results is COPYed here first.
CREATE TEMP TABLE IF NOT EXISTS results_staging (
    site_id          bigint NOT NULL,
    url              text NOT NULL,
    scheduled_at     timestamptz NOT NULL,
    checked_at       timestamptz NOT NULL,
    response_time_ms double precision,
    status_code      smallint,
    up               boolean,  -- NULL: a missed slot
    regex_matched    boolean,
    error            text,
    error_detail     text,
    dns_ms           real,
    connect_ms       real,
    tls_ms           real,
    ttfb_ms          real,
    redirects        smallint,
    tls_version      text,
    tls_expires_at   timestamptz,
    region           text NOT NULL
) ON COMMIT DELETE ROWS

-- copy_staging --
-- The column list is CheckResult's stored fields in its order (shared/messages/results.py),
-- filled in as identifiers by checker/writer/store.py; create_staging has each of them.
COPY results_staging ({columns}) FROM STDIN (FORMAT BINARY)

-- insert_new_results --
-- The fast path: no result of the batch is stored yet (the usual case). Sent in one
-- pipeline with upsert_status; a stored (site, slot, region) fails it, and the batch is written
-- again with insert_results.
INSERT INTO check_results (site_id, scheduled_at, checked_at, response_time_ms, status_code,
                           up, regex_matched, error, error_detail, dns_ms, connect_ms, tls_ms,
                           ttfb_ms, redirects, tls_version, tls_expires_at, region)
SELECT site_id, scheduled_at, checked_at, response_time_ms, status_code,
       up, regex_matched, error, error_detail, dns_ms, connect_ms, tls_ms,
       ttfb_ms, redirects, tls_version, tls_expires_at, region
  FROM results_staging

-- drop_missed_rows_checked_since --
-- The careful path, first: a slot stored as missed that the batch has a performed check
-- of (a redelivered task checked in time after all) keeps the check, not the miss.
DELETE FROM check_results c
 USING results_staging s
 WHERE c.site_id = s.site_id AND c.scheduled_at = s.scheduled_at AND c.region = s.region
   AND c.up IS NULL AND s.up IS NOT NULL

-- insert_results --
-- (site_id, scheduled_at, region) is the identity of a check: a redelivered result adds
-- nothing.
-- Performed checks first, so that of a check and a miss of one slot in the same batch the
-- check is the one kept.
INSERT INTO check_results (site_id, scheduled_at, checked_at, response_time_ms, status_code,
                           up, regex_matched, error, error_detail, dns_ms, connect_ms, tls_ms,
                           ttfb_ms, redirects, tls_version, tls_expires_at, region)
SELECT site_id, scheduled_at, checked_at, response_time_ms, status_code,
       up, regex_matched, error, error_detail, dns_ms, connect_ms, tls_ms,
       ttfb_ms, redirects, tls_version, tls_expires_at, region
  FROM results_staging
 ORDER BY up IS NULL
    ON CONFLICT (site_id, scheduled_at, region) DO NOTHING

-- upsert_status --
-- The newest result of each site in the batch replaces the stored one only if it is for a
-- later slot; the row lock taken by ON CONFLICT (kept until commit, also where the WHERE
-- fails) makes concurrent writers safe. It returns the state each replaced or new row
-- replaced; the replaced slot only when `with_slots` (a site with several results in the
-- batch), as loading it costs a tenth of the transaction. A result of a site deleted
-- meanwhile fails the foreign key; then `drop_unknown_sites` runs and this again.
-- `alerting` (not replaced) tells the incident walk which sites it can skip.
-- (Joining `sites` here always cost a hash of the whole table per batch: 2 ms at 10,000
-- sites.) The sites of `quorum_sites` (one text, as `quorum_states`' `site_ids`) are left
-- out: their state is their quorum's; NULL, the usual batch, is folded away when the
-- statement is planned.
INSERT INTO site_status (site_id, url, scheduled_at, checked_at, response_time_ms, status_code,
                         up, regex_matched, error, error_detail, dns_ms, connect_ms, tls_ms,
                         ttfb_ms, redirects, tls_version, tls_expires_at, updated_at)
SELECT DISTINCT ON (r.site_id)
       r.site_id, r.url, r.scheduled_at, r.checked_at, r.response_time_ms, r.status_code,
       r.up, r.regex_matched, r.error, r.error_detail, r.dns_ms, r.connect_ms, r.tls_ms,
       r.ttfb_ms, r.redirects, r.tls_version, r.tls_expires_at, now()
  FROM results_staging r
 WHERE r.up IS NOT NULL  -- a missed slot says nothing of the site's state
   AND (%(quorum_sites)s::bigint[] IS NULL
        OR NOT (r.site_id = ANY (%(quorum_sites)s::bigint[])))
 ORDER BY r.site_id, r.scheduled_at DESC
    ON CONFLICT (site_id) DO UPDATE
   SET url = EXCLUDED.url,
       scheduled_at = EXCLUDED.scheduled_at,
       checked_at = EXCLUDED.checked_at,
       response_time_ms = EXCLUDED.response_time_ms,
       status_code = EXCLUDED.status_code,
       up = EXCLUDED.up,
       regex_matched = EXCLUDED.regex_matched,
       error = EXCLUDED.error,
       error_detail = EXCLUDED.error_detail,
       dns_ms = EXCLUDED.dns_ms,
       connect_ms = EXCLUDED.connect_ms,
       tls_ms = EXCLUDED.tls_ms,
       ttfb_ms = EXCLUDED.ttfb_ms,
       redirects = EXCLUDED.redirects,
       tls_version = EXCLUDED.tls_version,
       tls_expires_at = EXCLUDED.tls_expires_at,
       updated_at = EXCLUDED.updated_at,
       previous_scheduled_at = site_status.scheduled_at,
       previous_up = site_status.up
 WHERE site_status.scheduled_at < EXCLUDED.scheduled_at
RETURNING site_id, previous_up,
          CASE WHEN %(with_slots)s THEN previous_scheduled_at END AS previous_scheduled_at,
          alerting

-- outage_regions --
-- The regions some of whose checks in the batch may count for nothing: an outage of the
-- region open, or ended after the batch's earliest slot. Their rows take the quorum's
-- path (`quorum_states`). Outages are few: this reads a handful of rows.
SELECT coalesce(array_agg(DISTINCT region), '{}') FROM region_outages
 WHERE ended_at IS NULL OR ended_at > %(earliest)s

-- lock_quorum_partitions --
-- Before the states of the quorum's sites are read: a slot's state depends on every
-- region's row of it, so two writers that store two regions' rows of one site at once take
-- turns, and the second reads the first's rows. A site's results all come from one
-- partition of the results topic (they are keyed by site), which one writer's lane owns
-- but for a rebalance's overlap or a writer presumed dead: one (class, partition) advisory
-- lock per partition of the batch, in order, covers every site in it. (A lock per site took
-- an entry of the server's shared lock table each: a few writers' batches of 5,000 filled
-- its default 6,400 and failed every transaction on the server.)
SELECT pg_advisory_xact_lock(%(lock_class)s::integer, k)
  FROM unnest(%(keys)s::integer[]) AS k
 ORDER BY k

-- quorum_states --
-- The quorum's path (docs/regions.md, "Quorum"): for the sites checked from several
-- regions, or from a region in an outage (`site_ids`, as one text '{1,2}': dumping a list
-- of thousands costs the writer's thread more than the statement; NULL: every site of the
-- batch). Each (site, slot) the batch stored a row of (results_staging) gets its state
-- from every stored row of it that counts, as webmon_slot_up says, by one lookup of the
-- slot's rows by key: `up`, and `was` without the rows of the batch (rows only add to a
-- verdict). The slots whose state the batch changed come back, each with the check that
-- stands for it (the first by check time, then region name, of the counting checks that
-- saw what the verdict says), and the latest of each site is folded into site_status as
-- `upsert_status` folds a check; then each site whose status they replaced, with the state
-- it replaced (as `upsert_status` returns them). The regions an outage may cover are read
-- once (`out`, a handful of rows), and webmon_region_out / webmon_counting_regions asked
-- only for the slots of a site with such a region (webmon_slot_verdict's rule, per batch).
WITH b AS (
    SELECT r.site_id, r.scheduled_at, array_agg(r.region) AS fresh
      FROM results_staging r
     WHERE %(site_ids)s::bigint[] IS NULL OR r.site_id = ANY (%(site_ids)s::bigint[])
     GROUP BY r.site_id, r.scheduled_at
), out AS MATERIALIZED (
    SELECT coalesce(array_agg(DISTINCT o.region), '{}') AS regions FROM region_outages o
     WHERE o.ended_at IS NULL OR o.ended_at > (SELECT min(b.scheduled_at) FROM b)
), x AS MATERIALIZED (
    -- `whole`: the batch holds a row of each of the site's regions for the slot, none of
    -- them in an outage: its state is the batch's rows alone (nothing was stored before
    -- them), and the slot costs no lookup. (The regions' checkers check a slot at about
    -- the same time, so their rows mostly share a batch.)
    SELECT b.site_id, b.scheduled_at, b.fresh, s.url, s.regions,
           webmon_quorum(s.regions, s.quorum) AS quorum,
           CASE WHEN s.regions && out.regions
                THEN webmon_counting_regions(s.regions, b.scheduled_at)
                ELSE cardinality(s.regions) END AS counting,
           s.regions <@ b.fresh AND NOT s.regions && out.regions AS whole
      FROM b CROSS JOIN out
     CROSS JOIN LATERAL (
            SELECT s.url, s.regions, s.quorum FROM sites s WHERE s.id = b.site_id OFFSET 0) s
), k AS MATERIALIZED (
    -- Each slot's rows that count: the batch's for a whole slot, else by key (OFFSET 0: a
    -- lookup per slot, never a hash join over the whole table).
    SELECT x.site_id, x.scheduled_at, true AS fresh, c.region, c.up, c.checked_at,
           c.response_time_ms, c.status_code, c.regex_matched, c.error, c.error_detail,
           c.dns_ms, c.connect_ms, c.tls_ms, c.ttfb_ms, c.redirects, c.tls_version,
           c.tls_expires_at
      FROM x
      JOIN results_staging c ON c.site_id = x.site_id AND c.scheduled_at = x.scheduled_at
     WHERE x.whole AND c.region = ANY (x.regions)
     UNION ALL
    SELECT x.site_id, x.scheduled_at, c.region = ANY (x.fresh), c.*
      FROM x CROSS JOIN out
     CROSS JOIN LATERAL (
            SELECT c.region, c.up, c.checked_at, c.response_time_ms, c.status_code,
                   c.regex_matched, c.error, c.error_detail, c.dns_ms, c.connect_ms, c.tls_ms,
                   c.ttfb_ms, c.redirects, c.tls_version, c.tls_expires_at
              FROM check_results c
             WHERE c.site_id = x.site_id AND c.scheduled_at = x.scheduled_at
               AND c.region = ANY (x.regions)
            OFFSET 0) c
     WHERE NOT x.whole
       AND NOT (c.region = ANY (out.regions) AND webmon_region_out(c.region, x.scheduled_at))
), t AS (
    SELECT k.site_id, k.scheduled_at,
           count(*) FILTER (WHERE k.up)::integer AS ups,
           count(*) FILTER (WHERE NOT k.up)::integer AS downs,
           count(*) FILTER (WHERE k.up AND NOT k.fresh)::integer AS old_ups,
           count(*) FILTER (WHERE NOT k.up AND NOT k.fresh)::integer AS old_downs,
           count(*)::integer AS reported,
           count(*) FILTER (WHERE NOT k.fresh)::integer AS old_reported,
           array_agg(k.region ORDER BY k.region) FILTER (WHERE NOT k.up) AS down_regions
      FROM k GROUP BY k.site_id, k.scheduled_at
), verdicts AS MATERIALIZED (
    SELECT x.site_id, x.scheduled_at, x.url,
           webmon_slot_up(t.ups, t.downs, x.counting, t.reported, x.quorum) AS up,
           webmon_slot_up(t.old_ups, t.old_downs, x.counting, t.old_reported, x.quorum) AS was,
           CASE WHEN cardinality(x.regions) > 1 THEN t.down_regions END AS down_regions
      FROM x JOIN t ON t.site_id = x.site_id AND t.scheduled_at = x.scheduled_at
), named AS (
    -- A region's row of a slot that was down already names it on the incident that slot
    -- opened: the incident's regions are every counting region that saw it down.
    UPDATE incidents i SET regions = f.down_regions
      FROM (SELECT j.id, d.down_regions
              FROM verdicts d
             CROSS JOIN LATERAL (
                    SELECT j.id, j.regions FROM incidents j
                     WHERE j.site_id = d.site_id AND j.opened_at <= d.scheduled_at
                       AND j.opening_slot = d.scheduled_at
                    OFFSET 0) j
             WHERE NOT d.up AND NOT d.was AND j.regions IS DISTINCT FROM d.down_regions) f
     WHERE i.id = f.id
), states AS MATERIALIZED (
    -- The changed slots, each with the check that stands for it.
    SELECT DISTINCT ON (v.site_id, v.scheduled_at)
           v.site_id, v.url, v.scheduled_at, c.checked_at, c.response_time_ms,
           c.status_code, v.up, c.regex_matched, c.error, c.error_detail, c.dns_ms,
           c.connect_ms, c.tls_ms, c.ttfb_ms, c.redirects, c.tls_version, c.tls_expires_at
      FROM verdicts v
      JOIN k c ON c.site_id = v.site_id AND c.scheduled_at = v.scheduled_at AND c.up = v.up
     WHERE v.up IS DISTINCT FROM v.was
     ORDER BY v.site_id, v.scheduled_at, c.checked_at, c.region
), status AS (
    INSERT INTO site_status (site_id, url, scheduled_at, checked_at, response_time_ms,
                             status_code, up, regex_matched, error, error_detail, dns_ms,
                             connect_ms, tls_ms, ttfb_ms, redirects, tls_version,
                             tls_expires_at, updated_at)
    SELECT DISTINCT ON (r.site_id)
           r.site_id, r.url, r.scheduled_at, r.checked_at, r.response_time_ms, r.status_code,
           r.up, r.regex_matched, r.error, r.error_detail, r.dns_ms, r.connect_ms, r.tls_ms,
           r.ttfb_ms, r.redirects, r.tls_version, r.tls_expires_at, now()
      FROM states r
     ORDER BY r.site_id, r.scheduled_at DESC
        ON CONFLICT (site_id) DO UPDATE
       SET url = EXCLUDED.url,
           scheduled_at = EXCLUDED.scheduled_at,
           checked_at = EXCLUDED.checked_at,
           response_time_ms = EXCLUDED.response_time_ms,
           status_code = EXCLUDED.status_code,
           up = EXCLUDED.up,
           regex_matched = EXCLUDED.regex_matched,
           error = EXCLUDED.error,
           error_detail = EXCLUDED.error_detail,
           dns_ms = EXCLUDED.dns_ms,
           connect_ms = EXCLUDED.connect_ms,
           tls_ms = EXCLUDED.tls_ms,
           ttfb_ms = EXCLUDED.ttfb_ms,
           redirects = EXCLUDED.redirects,
           tls_version = EXCLUDED.tls_version,
           tls_expires_at = EXCLUDED.tls_expires_at,
           updated_at = EXCLUDED.updated_at,
           previous_scheduled_at = site_status.scheduled_at,
           previous_up = site_status.up
     WHERE site_status.scheduled_at < EXCLUDED.scheduled_at
    RETURNING site_id, previous_up, previous_scheduled_at, alerting
)
-- The changed slots (`replaced` NULL), then each replaced status (the others NULL).
SELECT r.site_id, r.scheduled_at, r.checked_at, r.up, r.status_code, r.error, r.error_detail,
       NULL::boolean AS replaced, NULL::boolean, NULL::timestamptz, NULL::smallint
  FROM states r
 UNION ALL
SELECT u.site_id, NULL, NULL, NULL, NULL, NULL, NULL, true, u.previous_up,
       u.previous_scheduled_at, u.alerting
  FROM status u

-- drop_unknown_sites --
-- After the status upsert hit the foreign key: results of sites deleted meanwhile keep
-- their check_results rows (inserted already) but get no status.
DELETE FROM results_staging r WHERE NOT EXISTS (SELECT 1 FROM sites s WHERE s.id = r.site_id)

-- rollup_watermark --
-- Shared with every other writer, exclusive only while maintenance moves the mark: results
-- older than the mark are queued for a recount of their hour (webmon_rollup_state).
SELECT pg_advisory_xact_lock_shared(%(lock_key)s), counted_to FROM webmon_rollup_state

-- queue_late_hours --
-- DO UPDATE, not DO NOTHING: the row lock makes a recount that takes this hour off the
-- queue wait for this batch's commit, so that the recount sees its rows.
INSERT INTO webmon_rollup_queue (hour)
SELECT unnest(%(hours)s::timestamptz[])
    ON CONFLICT (hour) DO UPDATE SET hour = EXCLUDED.hour

-- insert_events --
INSERT INTO site_events (site_id, scheduled_at, checked_at, from_up, to_up, status_code,
                         error, error_detail)
SELECT * FROM unnest(%(site_ids)s::bigint[], %(slots)s::timestamptz[],
                     %(checked)s::timestamptz[], %(from_up)s::boolean[], %(to_up)s::boolean[],
                     %(status)s::smallint[], %(error)s::text[], %(detail)s::text[])
    ON CONFLICT (site_id, scheduled_at) DO NOTHING

-- recount_spans --
-- For each site with a late result: the state just before the batch's earliest slot and
-- the one just after its latest (NULL: none before). The flips between them are
-- recounted; missed slots and slots with no verdict flip nothing. A site of one region
-- and no outage (webmon_plain_region) reads its checks, any other its states by quorum.
SELECT b.site_id,
       CASE WHEN k.region IS NOT NULL
            THEN (SELECT max(c.scheduled_at) FROM check_results c
                   WHERE c.site_id = b.site_id AND c.scheduled_at < b.lo AND c.up IS NOT NULL
                     AND c.region = k.region)
            ELSE webmon_state_before(b.site_id, b.lo) END,
       coalesce(CASE WHEN k.region IS NOT NULL
                     THEN (SELECT min(c.scheduled_at) FROM check_results c
                            WHERE c.site_id = b.site_id AND c.scheduled_at > b.hi
                              AND c.up IS NOT NULL AND c.region = k.region)
                     ELSE webmon_state_after(b.site_id, b.hi) END, b.hi)
  FROM unnest(%(site_ids)s::bigint[], %(los)s::timestamptz[], %(his)s::timestamptz[])
       AS b(site_id, lo, hi)
 CROSS JOIN LATERAL (SELECT webmon_plain_region(b.site_id, '-infinity') AS region OFFSET 0) k

-- delete_span_events --
DELETE FROM site_events e
 USING unnest(%(site_ids)s::bigint[], %(afters)s::timestamptz[], %(uptos)s::timestamptz[])
       AS s(site_id, after, upto)
 WHERE e.site_id = s.site_id AND e.scheduled_at > coalesce(s.after, '-infinity')
   AND e.scheduled_at <= s.upto

-- insert_span_events --
-- The flips between a recounted site's states: its checks (one region, no outage since
-- `after`) or its states by quorum, each slot's check that stands for it.
INSERT INTO site_events (site_id, scheduled_at, checked_at, from_up, to_up, status_code,
                         error, error_detail)
SELECT site_id, scheduled_at, checked_at, previous_up, up, status_code, error, error_detail
  FROM (SELECT s.site_id, c.scheduled_at, c.checked_at, c.up, c.status_code, c.error,
               c.error_detail, coalesce(s.after, '-infinity') AS after,
               lag(c.up) OVER (PARTITION BY s.site_id ORDER BY c.scheduled_at) AS previous_up
          FROM unnest(%(site_ids)s::bigint[], %(afters)s::timestamptz[],
                      %(uptos)s::timestamptz[]) AS s(site_id, after, upto)
         CROSS JOIN LATERAL (
                SELECT webmon_plain_region(s.site_id, coalesce(s.after, '-infinity')) AS region
                OFFSET 0) k
         CROSS JOIN LATERAL (
                SELECT c.scheduled_at, c.checked_at, c.up, c.status_code, c.error,
                       c.error_detail
                  FROM check_results c
                 WHERE k.region IS NOT NULL AND c.site_id = s.site_id
                   AND c.scheduled_at >= coalesce(s.after, '-infinity')
                   AND c.scheduled_at <= s.upto AND c.up IS NOT NULL AND c.region = k.region
                UNION ALL
                SELECT q.scheduled_at, c.checked_at, q.up, c.status_code, c.error,
                       c.error_detail
                  FROM webmon_site_states(s.site_id, coalesce(s.after, '-infinity'), s.upto) q
                  JOIN check_results c ON c.site_id = s.site_id
                   AND c.scheduled_at = q.scheduled_at AND c.region = q.region
                 WHERE k.region IS NULL) AS c) AS span
 WHERE scheduled_at > after AND previous_up IS DISTINCT FROM up

-- apply_task_updates --
-- On-demand tasks moving on, one row per task: the latest state the batch has of it. A
-- status only moves forward and a final one never changes (`t.status < u.status`), so a
-- PROCESSING delivered after a COMPLETED, or a redelivered result, changes nothing.
UPDATE tasks t
   SET status = u.status,
       started_at = coalesce(t.started_at, u.started_at),
       finished_at = u.finished_at,
       result = u.result
  FROM unnest(%(task_ids)s::uuid[], %(statuses)s::smallint[], %(started)s::timestamptz[],
              %(finished)s::timestamptz[], %(results)s::jsonb[])
       AS u(task_id, status, started_at, finished_at, result)
 WHERE t.task_id = u.task_id AND t.status < u.status

-- alert_states --
-- Incidents (checker/writer/incidents.py), for the sites of a batch that need a walk: the
-- thresholds, where the walk stands, its open incident, and, for a site with a result at
-- or before where it stands (late or redelivered), where to walk again from: the
-- incident that covers the result (from its opening check), else the clean anchor: its
-- checks' (webmon_clean_anchor) for a site of one region and no outage, else its states'
-- (webmon_state_anchor).
-- Every lookup is by key, per site: a LATERAL subquery with OFFSET 0 is not flattened
-- into a join, which the planner would make a hash join reading whole tables.
SELECT b.site_id, s.failure_threshold, s.success_threshold,
       a.last_slot, a.down_streak, a.down_since, a.down_status_code, a.down_error,
       a.down_detail, a.down_regex_matched, a.up_streak, a.up_since,
       i.id, i.opened_at, i.opening_slot, i.opening_checked_at, i.status_code, i.error,
       i.error_detail, i.cause, i.regions,
       b.lo <= a.last_slot AS recount,
       ci.id, ci.opened_at, ci.opening_slot, ci.opening_checked_at, ci.status_code, ci.error,
       ci.error_detail, ci.cause, ci.regions,
       CASE WHEN b.lo <= a.last_slot AND ci.id IS NULL
            THEN CASE WHEN webmon_plain_region(b.site_id, '-infinity') IS NOT NULL
                      THEN webmon_clean_anchor(b.site_id, b.lo)
                      ELSE webmon_state_anchor(b.site_id, b.lo) END END
  FROM unnest(%(site_ids)s::bigint[], %(los)s::timestamptz[]) AS b(site_id, lo)
 CROSS JOIN LATERAL (SELECT failure_threshold, success_threshold FROM sites
                      WHERE id = b.site_id OFFSET 0) s
  LEFT JOIN LATERAL (SELECT * FROM site_alert_state WHERE site_id = b.site_id OFFSET 0) a
    ON true
  LEFT JOIN LATERAL (SELECT * FROM incidents WHERE id = a.open_incident_id OFFSET 0) i
    ON true
  LEFT JOIN LATERAL (
        SELECT c.* FROM incidents c
         WHERE b.lo <= a.last_slot AND c.site_id = b.site_id AND c.opening_slot < b.lo
           AND (c.resolving_slot IS NULL OR c.resolving_slot >= b.lo)
         ORDER BY c.opening_slot DESC
         LIMIT 1) ci ON true

-- walk_checks --
-- The states of each site from `since` on, in slot order: its checks themselves, or for
-- a site of the quorum's path (`quorum`: of several regions, or of a region in an outage
-- in the batch), or one whose region had an outage since `since` (webmon_plain_region,
-- asked only when some outage lasted past `earliest`), its states by quorum, each with the
-- check that stands for it and the regions that saw it down. The checks are an index range
-- per site and partition (OFFSET 0: not flattened into a hash join over the partitions;
-- `earliest` prunes the partitions before any `since`). For a site whose incident is open
-- with no up state since (`from_up`), the states before its first up check after
-- `since`, or before `lo`, change nothing and are not read: the batches that skipped it
-- left them (an up state needs an up check, so that is never too late).
SELECT f.site_id, c.scheduled_at, c.checked_at, c.up, c.status_code, c.error,
       c.error_detail, c.regex_matched, c.down_regions
  FROM unnest(%(site_ids)s::bigint[], %(sinces)s::timestamptz[], %(from_up)s::boolean[],
              %(los)s::timestamptz[], %(quorum)s::boolean[])
       AS f(site_id, since, from_up, lo, quorum)
 CROSS JOIN LATERAL (
        SELECT CASE WHEN f.from_up THEN least(f.lo, (
                   SELECT min(u.scheduled_at) FROM check_results u
                    WHERE u.site_id = f.site_id AND u.scheduled_at >= f.since
                      AND u.scheduled_at >= %(earliest)s AND u.up))
               ELSE f.since END AS start
        OFFSET 0) w
 CROSS JOIN LATERAL (
        SELECT NOT f.quorum
               AND (NOT EXISTS (SELECT 1 FROM region_outages o
                                 WHERE o.ended_at IS NULL OR o.ended_at > %(earliest)s)
                    OR webmon_plain_region(f.site_id, greatest(w.start, %(earliest)s))
                       IS NOT NULL) AS plain
        OFFSET 0) k
 CROSS JOIN LATERAL (
        SELECT c.scheduled_at, c.checked_at, c.up, c.status_code, c.error, c.error_detail,
               c.regex_matched, NULL::text[] AS down_regions
          FROM check_results c
         WHERE k.plain AND c.site_id = f.site_id AND c.scheduled_at >= w.start
           AND c.scheduled_at >= %(earliest)s AND c.up IS NOT NULL
        UNION ALL
        SELECT q.scheduled_at, c.checked_at, q.up, c.status_code, c.error, c.error_detail,
               c.regex_matched, q.down_regions
          FROM webmon_site_states(f.site_id, greatest(w.start, %(earliest)s), 'infinity') q
          JOIN check_results c ON c.site_id = f.site_id AND c.scheduled_at = q.scheduled_at
           AND c.region = q.region
         WHERE NOT k.plain
        OFFSET 0) c
 ORDER BY f.site_id, c.scheduled_at

-- stored_incidents --
-- A recounted site's incidents that opened after its anchor (NULL: all of them).
SELECT f.site_id, i.id, i.opened_at, i.opening_slot, i.opening_checked_at, i.status_code,
       i.error, i.error_detail, i.cause, i.resolved_at, i.resolving_slot,
       i.resolving_checked_at, i.regions
  FROM unnest(%(site_ids)s::bigint[], %(anchors)s::timestamptz[]) AS f(site_id, anchor)
 CROSS JOIN LATERAL (
        SELECT * FROM incidents i
         WHERE i.site_id = f.site_id AND i.opened_at > coalesce(f.anchor, '-infinity')
        OFFSET 0) i
 ORDER BY f.site_id, i.opened_at

-- delete_incidents --
DELETE FROM incidents WHERE id = ANY(%(ids)s::bigint[])

-- update_incidents --
UPDATE incidents i
   SET opened_at = u.opened_at, opening_slot = u.opening_slot,
       opening_checked_at = u.opening_checked_at, cause = u.cause,
       status_code = u.status_code, error = u.error, error_detail = u.error_detail,
       resolved_at = u.resolved_at, resolving_slot = u.resolving_slot,
       resolving_checked_at = u.resolving_checked_at,
       regions = string_to_array(u.regions, ',')
  FROM unnest(%(ids)s::bigint[], %(opened)s::timestamptz[], %(opening)s::timestamptz[],
              %(opening_checked)s::timestamptz[], %(causes)s::text[], %(status)s::smallint[],
              %(errors)s::text[], %(details)s::text[], %(resolved)s::timestamptz[],
              %(resolving)s::timestamptz[], %(resolving_checked)s::timestamptz[],
              %(regions)s::text[])
       AS u(id, opened_at, opening_slot, opening_checked_at, cause, status_code, error,
            error_detail, resolved_at, resolving_slot, resolving_checked_at, regions)
 WHERE i.id = u.id

-- insert_incidents --
-- `regions` come as one text each, the names joined by commas (a region's name has none;
-- NULL for none): unnest cannot take an array of arrays of different lengths.
INSERT INTO incidents (site_id, opened_at, opening_slot, opening_checked_at, cause,
                       status_code, error, error_detail, resolved_at, resolving_slot,
                       resolving_checked_at, regions)
SELECT u.site_id, u.opened_at, u.opening_slot, u.opening_checked_at, u.cause, u.status_code,
       u.error, u.error_detail, u.resolved_at, u.resolving_slot, u.resolving_checked_at,
       string_to_array(u.regions, ',')
  FROM unnest(%(site_ids)s::bigint[], %(opened)s::timestamptz[],
              %(opening)s::timestamptz[], %(opening_checked)s::timestamptz[],
              %(causes)s::text[], %(status)s::smallint[], %(errors)s::text[],
              %(details)s::text[], %(resolved)s::timestamptz[],
              %(resolving)s::timestamptz[], %(resolving_checked)s::timestamptz[],
              %(regions)s::text[])
       AS u(site_id, opened_at, opening_slot, opening_checked_at, cause, status_code, error,
            error_detail, resolved_at, resolving_slot, resolving_checked_at, regions)
RETURNING id, site_id, opening_slot

-- save_alert_states --
INSERT INTO site_alert_state (site_id, last_slot, down_streak, down_since, down_status_code,
                              down_error, down_detail, down_regex_matched, up_streak,
                              up_since, open_incident_id)
SELECT * FROM unnest(%(site_ids)s::bigint[], %(last_slots)s::timestamptz[],
                     %(down_streaks)s::int[], %(down_since)s::timestamptz[],
                     %(down_status)s::smallint[], %(down_errors)s::text[],
                     %(down_details)s::text[], %(down_regex)s::boolean[],
                     %(up_streaks)s::int[], %(up_since)s::timestamptz[],
                     %(open_ids)s::bigint[])
    ON CONFLICT (site_id) DO UPDATE
   SET last_slot = EXCLUDED.last_slot, down_streak = EXCLUDED.down_streak,
       down_since = EXCLUDED.down_since, down_status_code = EXCLUDED.down_status_code,
       down_error = EXCLUDED.down_error, down_detail = EXCLUDED.down_detail,
       down_regex_matched = EXCLUDED.down_regex_matched,
       up_streak = EXCLUDED.up_streak, up_since = EXCLUDED.up_since,
       open_incident_id = EXCLUDED.open_incident_id

-- forget_alert_states --
-- Sites walked again from their first slot that have no state left (each was a region's now
-- in an outage, checker/writer/outage_recount.py): nothing walked, nothing alerting.
WITH gone AS (
    DELETE FROM site_alert_state WHERE site_id = ANY (%(site_ids)s::bigint[])
)
UPDATE site_status SET alerting = 0
 WHERE site_id = ANY (%(site_ids)s::bigint[]) AND alerting <> 0

-- mark_alerting --
-- Only rows whose value changes are written.
UPDATE site_status st SET alerting = f.alerting
  FROM unnest(%(site_ids)s::bigint[], %(alerting)s::smallint[]) AS f(site_id, alerting)
 WHERE st.site_id = f.site_id AND st.alerting IS DISTINCT FROM f.alerting

-- queue_notifications --
-- The outbox rows of incidents opened or resolved: one per channel the site routes to,
-- held (`suppressed`) inside a maintenance window, and a RESOLVED also while its DOWN is
-- held. A redelivered result finds the key taken and adds nothing.
INSERT INTO notifications (idempotency_key, channel_id, site_id, incident_id, kind, event_at,
                           state)
SELECT e.key, r.channel_id, e.site_id, e.incident_id, e.kind, e.event_at,
       CASE WHEN webmon_in_maintenance(e.site_id, e.event_at)
              OR (e.kind = 'resolved' AND EXISTS (
                      SELECT 1 FROM notifications d
                       WHERE d.idempotency_key = 'incident-' || e.incident_id || '-down'
                         AND d.channel_id = r.channel_id AND d.state = 'suppressed'))
            THEN 'suppressed' ELSE 'pending' END
  FROM unnest(%(site_ids)s::bigint[], %(incident_ids)s::bigint[], %(kinds)s::text[],
              %(event_at)s::timestamptz[])
       AS e0(site_id, incident_id, kind, event_at)
 CROSS JOIN LATERAL (SELECT 'incident-' || e0.incident_id || '-' || e0.kind AS key, e0.*) AS e
 CROSS JOIN LATERAL webmon_routes(e.site_id) AS r(channel_id)
    ON CONFLICT (idempotency_key, channel_id) DO NOTHING

-- queue_certificate_warnings --
-- A warning for each site of the batch whose certificate (as this batch saw it) expires
-- within the site's `cert_expiry_days`: one per channel the site routes to, keyed by the
-- site, the certificate's expiry and the threshold, so that each certificate warns once
-- per threshold (a renewed certificate has another expiry). Not held by maintenance
-- windows: a window silences outages, and a certificate's deadline does not move.
INSERT INTO notifications (idempotency_key, channel_id, site_id, kind, event_at)
SELECT 'certificate-' || c.site_id || '-' || floor(extract(epoch FROM c.expires_at))::bigint
           || '-' || s.cert_expiry_days || 'd',
       r.channel_id, c.site_id, 'certificate', c.expires_at
  FROM unnest(%(site_ids)s::bigint[], %(expires_at)s::timestamptz[],
              %(checked_at)s::timestamptz[]) AS c(site_id, expires_at, checked_at)
  JOIN sites s ON s.id = c.site_id
 CROSS JOIN LATERAL webmon_routes(c.site_id) AS r(channel_id)
 WHERE c.expires_at <= c.checked_at + s.cert_expiry_days * interval '1 day'
    ON CONFLICT (idempotency_key, channel_id) DO NOTHING

-- ------------------------------------------------------------------------------------------
-- Region health (checker/writer/region_health.py): before the incident walk, in the batch's
-- transaction. The batch is in results_staging, and already in check_results.
-- ------------------------------------------------------------------------------------------

-- region_canary_checks --
-- The batch's checks of each region's canary from that region, in slot order; for a down
-- one, the canary's next up check from that region stored after it (a late result's; it
-- may be in this batch), and its run: the canary's down checks from that region around it
-- with no up check between (missed slots neither break nor extend it), counted up to
-- %(canary_failures)s, and the first of them. A run starts after the latest up check and
-- not before the latest start or end of an outage of the region (`bound`): what lies
-- before was an outage's already, and the search back stops there. Its site, slot and
-- region are a prefix of the key; for an up check each lookup is skipped (`NOT s.up`, a
-- filter on the outer row alone).
SELECT s.region, s.scheduled_at, s.up, s.status_code, s.error, s.regex_matched,
       n.next_up, f.first_down, f.failures
  FROM results_staging s
  JOIN region_canaries k ON k.site_id = s.site_id AND k.region = s.region
 CROSS JOIN LATERAL (
        SELECT min(c.scheduled_at) AS next_up FROM check_results c
         WHERE NOT s.up AND c.site_id = s.site_id AND c.scheduled_at > s.scheduled_at
           AND c.region = s.region AND c.up
        OFFSET 0) n
 CROSS JOIN LATERAL (
        SELECT coalesce(max(v.at), '-infinity') AS bound
          FROM region_outages o
         CROSS JOIN LATERAL (VALUES (o.started_at), (o.ended_at)) AS v(at)
         WHERE NOT s.up AND o.region = s.region AND v.at <= s.scheduled_at
        OFFSET 0) b
 CROSS JOIN LATERAL (
        SELECT coalesce(max(c.scheduled_at), b.bound) AS last_up FROM check_results c
         WHERE NOT s.up AND c.site_id = s.site_id AND c.scheduled_at < s.scheduled_at
           AND c.scheduled_at >= b.bound AND c.region = s.region AND c.up
        OFFSET 0) u
 CROSS JOIN LATERAL (
        SELECT min(r.scheduled_at) AS first_down, count(*)::integer AS failures
          FROM (SELECT c.scheduled_at FROM check_results c
                 WHERE NOT s.up AND c.site_id = s.site_id AND c.region = s.region
                   AND NOT c.up
                   AND (c.scheduled_at > u.last_up
                        OR (c.scheduled_at = u.last_up AND u.last_up = b.bound))
                   AND c.scheduled_at < coalesce(n.next_up, 'infinity')
                 ORDER BY c.scheduled_at
                 LIMIT %(canary_failures)s) r
        OFFSET 0) f
 WHERE s.up IS NOT NULL
 ORDER BY s.region, s.scheduled_at

-- region_tallies --
-- For each region worth a look: its checks in the batch that can be compared with another
-- region's (`compared`), and of those the down ones another region saw up (`confirmed`).
-- Its down checks are compared by key (the region is the key's last column) when the batch
-- has down checks of at least %(min_sites)s of its sites, or a 'most_sites' outage of it is
-- open; a down check of a slot no other region has a check of yet is left out. Its up
-- checks count as compared (which can only make a region harder to call unhealthy), and
-- are counted only for a region with that many confirmed sites or that outage. A healthy
-- batch costs a pass over the staging table and a lookup per down check.
WITH downs AS (
    SELECT s.site_id, s.scheduled_at, s.region, o.ups
      FROM results_staging s
     CROSS JOIN LATERAL (
            SELECT count(*) FILTER (WHERE c.up) AS ups, count(*) AS checks
              FROM check_results c
             WHERE c.site_id = s.site_id AND c.scheduled_at = s.scheduled_at
               AND c.region <> s.region AND c.up IS NOT NULL
            OFFSET 0) o
     WHERE s.up = false AND o.checks > 0
       AND s.region IN (SELECT region FROM results_staging WHERE up = false
                         GROUP BY region HAVING count(DISTINCT site_id) >= %(min_sites)s
                        UNION
                        SELECT region FROM region_outages
                         WHERE ended_at IS NULL AND cause = 'most_sites')
), tallied AS (
    SELECT region,
           count(*) FILTER (WHERE ups > 0) AS confirmed,
           count(DISTINCT site_id) FILTER (WHERE ups > 0) AS confirmed_sites,
           count(*) FILTER (WHERE ups = 0) AS agreed,
           count(DISTINCT site_id) FILTER (WHERE ups = 0) AS agreed_sites,
           min(scheduled_at) FILTER (WHERE ups > 0) AS first_confirmed,
           min(scheduled_at) FILTER (WHERE ups = 0) AS first_agreed
      FROM downs
     GROUP BY region
), relevant AS (
    SELECT region FROM tallied WHERE confirmed_sites >= %(min_sites)s
    UNION
    SELECT region FROM region_outages WHERE ended_at IS NULL AND cause = 'most_sites'
), ups AS (
    SELECT s.region, count(*) AS checks, count(DISTINCT s.site_id) AS sites,
           min(s.scheduled_at) AS first
      FROM results_staging s
      JOIN relevant r ON r.region = s.region
     WHERE s.up
     GROUP BY s.region
)
SELECT r.region,
       (coalesce(t.confirmed, 0) + coalesce(t.agreed, 0) + coalesce(u.checks, 0))::integer,
       (coalesce(t.confirmed_sites, 0) + coalesce(t.agreed_sites, 0)
        + coalesce(u.sites, 0))::integer,
       coalesce(t.confirmed, 0)::integer,
       coalesce(t.confirmed_sites, 0)::integer,
       t.first_confirmed,
       least(t.first_agreed, u.first)
  FROM relevant r
  LEFT JOIN tallied t ON t.region = r.region
  LEFT JOIN ups u ON u.region = r.region
 ORDER BY r.region

-- region_open_outages --
SELECT id, region, started_at, cause FROM region_outages WHERE ended_at IS NULL

-- open_region_outage --
-- Nothing when another writer is opening one of the region right now (it holds the
-- region's advisory lock: this writer does not wait for it while holding its own sites,
-- and that one walks them again once they are committed), when the region's outage is open
-- already (the key of region_outages_open), nor when an outage covers the slot (a
-- redelivered canary check).
INSERT INTO region_outages (region, started_at, ended_at, cause, detail)
SELECT %(region)s::text, %(started_at)s::timestamptz, %(ended_at)s::timestamptz,
       %(cause)s::text, %(detail)s::text
 WHERE pg_try_advisory_xact_lock(%(lock_key)s::integer, hashtext(%(region)s::text))
   AND NOT webmon_region_out(%(region)s::text, %(started_at)s::timestamptz)
    ON CONFLICT (region) WHERE ended_at IS NULL DO NOTHING
RETURNING id

-- end_region_outage --
-- Nothing when another writer ended it first, or is opening or ending one of the region right
-- now (it holds the region's advisory lock, which this one only tries: waiting for it while
-- holding its own sites' status rows could deadlock with that one's lock_region_sites).
UPDATE region_outages SET ended_at = %(ended_at)s
 WHERE id = %(outage_id)s AND ended_at IS NULL AND started_at < %(ended_at)s
   AND pg_try_advisory_xact_lock(%(lock_key)s::integer, hashtext(region))
RETURNING id

-- queue_region_event --
-- One notification per default channel (migrations/functions/090_region_health.sql).
SELECT webmon_queue_region_event(%(outage_id)s::bigint, %(kind)s::text, %(at)s::timestamptz)

-- lock_region_sites --
-- The status rows of the sites checked from the region, which a writer holds while it walks
-- a site (upsert_status): once this has them, no walk that missed the new outage is still
-- under way, and none starts before it commits. Once per outage that opens.
SELECT st.site_id
  FROM site_status st
  JOIN sites s ON s.id = st.site_id
 WHERE %(region)s = ANY (s.regions)
 ORDER BY st.site_id
   FOR UPDATE OF st

-- region_sites_since --
-- After an outage of the region opened or ended at %(since)s (checker/writer/outage_recount.py):
-- the sites checked from it with a row stored from that slot on, and their latest slot. One
-- lookup by key per site of the region; only when an outage opens or ends.
SELECT s.id, l.latest
  FROM sites s
 CROSS JOIN LATERAL (
        SELECT max(c.scheduled_at) AS latest FROM check_results c
         WHERE c.site_id = s.id AND c.scheduled_at >= %(since)s
        OFFSET 0) l
 WHERE %(region)s = ANY (s.regions) AND l.latest IS NOT NULL
 ORDER BY s.id

-- recount_site_status --
-- After an outage's start or end changed which checks count: each site's status becomes its
-- latest slot with a verdict, whatever slot it had, with the check that stands for it; a
-- site with no verdict left (every one was a region's now out) has no status, as before
-- its first: its next state inserts one. The latest state is recount_states' (region_states
-- decided it), or, for a site with none in its window, found a slot at a time
-- (webmon_state_before, webmon_slot_verdict).
WITH latest AS MATERIALIZED (
    SELECT f.site_id, coalesce(w.slot, o.slot) AS slot, coalesce(w.up, o.up) AS up,
           coalesce(w.region, o.region) AS region
      FROM unnest(%(site_ids)s::bigint[]) AS f(site_id)
      LEFT JOIN LATERAL (
            SELECT r.scheduled_at AS slot, r.up, r.region FROM recount_states r
             WHERE r.site_id = f.site_id
             ORDER BY r.scheduled_at DESC LIMIT 1) w ON true
      LEFT JOIN LATERAL (
            SELECT l.slot, v.up, v.region
              FROM (SELECT webmon_state_before(f.site_id, 'infinity') AS slot
                     WHERE w.slot IS NULL OFFSET 0) l
             CROSS JOIN LATERAL webmon_slot_verdict(f.site_id, l.slot) v
             WHERE l.slot IS NOT NULL) o ON true
), gone AS (
    DELETE FROM site_status st USING latest l WHERE st.site_id = l.site_id AND l.slot IS NULL
)
INSERT INTO site_status (site_id, url, scheduled_at, checked_at, response_time_ms, status_code,
                         up, regex_matched, error, error_detail, dns_ms, connect_ms, tls_ms,
                         ttfb_ms, redirects, tls_version, tls_expires_at, updated_at)
SELECT l.site_id, s.url, c.scheduled_at, c.checked_at, c.response_time_ms, c.status_code,
       l.up, c.regex_matched, c.error, c.error_detail, c.dns_ms, c.connect_ms, c.tls_ms,
       c.ttfb_ms, c.redirects, c.tls_version, c.tls_expires_at, now()
  FROM latest l
 CROSS JOIN LATERAL (SELECT url FROM sites WHERE id = l.site_id OFFSET 0) s
 CROSS JOIN LATERAL (
        SELECT * FROM check_results c
         WHERE c.site_id = l.site_id AND c.scheduled_at = l.slot AND c.region = l.region
        OFFSET 0) c
 WHERE l.slot IS NOT NULL
    ON CONFLICT (site_id) DO UPDATE
   SET url = EXCLUDED.url,
       scheduled_at = EXCLUDED.scheduled_at,
       checked_at = EXCLUDED.checked_at,
       response_time_ms = EXCLUDED.response_time_ms,
       status_code = EXCLUDED.status_code,
       up = EXCLUDED.up,
       regex_matched = EXCLUDED.regex_matched,
       error = EXCLUDED.error,
       error_detail = EXCLUDED.error_detail,
       dns_ms = EXCLUDED.dns_ms,
       connect_ms = EXCLUDED.connect_ms,
       tls_ms = EXCLUDED.tls_ms,
       ttfb_ms = EXCLUDED.ttfb_ms,
       redirects = EXCLUDED.redirects,
       tls_version = EXCLUDED.tls_version,
       tls_expires_at = EXCLUDED.tls_expires_at,
       updated_at = EXCLUDED.updated_at

-- region_outage_walks --
-- Of the sites counted again from %(since)s (region_sites_since), those whose incidents
-- can change: not clean (a down streak, an open incident), an incident opened since, or,
-- now that their flips are counted again, a down state from that slot on (a down flip
-- since, or down at the slot before). The others are up from the slot on and clean: a walk
-- would open nothing. They are walked again from the slot.
SELECT f.site_id
  FROM unnest(%(site_ids)s::bigint[]) AS f(site_id)
  LEFT JOIN LATERAL (SELECT * FROM site_alert_state a WHERE a.site_id = f.site_id OFFSET 0) a
    ON true
 WHERE a.down_streak > 0 OR a.open_incident_id IS NOT NULL
    OR EXISTS (SELECT 1 FROM incidents i
                WHERE i.site_id = f.site_id AND i.opened_at >= %(since)s)
    OR EXISTS (SELECT 1 FROM site_events e
                WHERE e.site_id = f.site_id AND e.scheduled_at >= %(since)s AND NOT e.to_up)
    OR NOT (SELECT e.to_up FROM site_events e
             WHERE e.site_id = f.site_id AND e.scheduled_at < %(since)s
             ORDER BY e.scheduled_at DESC LIMIT 1)
 ORDER BY f.site_id

-- create_region_states --
-- The states a region's outage recount reads (checker/writer/outage_recount.py), decided
-- once for all the sites counted again instead of a slot at a time. Dropped at commit; a
-- second recount in the same transaction empties it first (clear_region_states).
CREATE TEMP TABLE IF NOT EXISTS recount_states (
    site_id      bigint NOT NULL,
    scheduled_at timestamptz NOT NULL,
    up           boolean NOT NULL,
    region       text NOT NULL,
    PRIMARY KEY (site_id, scheduled_at)
) ON COMMIT DROP

-- clear_region_states --
TRUNCATE recount_states

-- region_states --
-- Every stored slot of each site counted again (`site_ids`, up to `uptos`, its latest
-- stored slot) from two of its intervals before `since` on that has a verdict, with the
-- check that stands for it: webmon_slot_verdict's count (the rows that count, the regions
-- that count, webmon_slot_up, the first counting check by check time then region name
-- that saw what the verdict says), over the sites' rows in one pass. The outages that may
-- cover a slot are read once (`outs`, a handful of rows) and matched to each row and slot
-- as webmon_region_out and webmon_counting_regions do, without a call per row.
-- tests/alerting/test_region_recount.py holds it to webmon_site_states.
INSERT INTO recount_states (site_id, scheduled_at, up, region)
WITH f AS MATERIALIZED (
    SELECT f.site_id, f.upto, s.regions, webmon_quorum(s.regions, s.quorum) AS quorum,
           %(since)s::timestamptz - make_interval(secs => 2 * s.interval_seconds) AS lo
      FROM unnest(%(site_ids)s::bigint[], %(uptos)s::timestamptz[]) AS f(site_id, upto)
      JOIN sites s ON s.id = f.site_id
), outs AS MATERIALIZED (
    SELECT o.region, o.started_at, o.ended_at FROM region_outages o
     WHERE o.ended_at IS NULL OR o.ended_at > (SELECT min(f.lo) FROM f)
), k AS (
    SELECT f.site_id, c.scheduled_at, c.region, c.up, c.checked_at
      FROM f
     CROSS JOIN LATERAL (
            SELECT c.scheduled_at, c.region, c.up, c.checked_at FROM check_results c
             WHERE c.site_id = f.site_id AND c.scheduled_at >= f.lo
               AND c.scheduled_at <= f.upto AND c.region = ANY (f.regions)
            OFFSET 0) c
     WHERE NOT EXISTS (SELECT 1 FROM outs o
                        WHERE o.region = c.region AND o.started_at <= c.scheduled_at
                          AND (o.ended_at IS NULL OR c.scheduled_at < o.ended_at))
), t AS (
    SELECT k.site_id, k.scheduled_at,
           count(*) FILTER (WHERE k.up)::integer AS ups,
           count(*) FILTER (WHERE NOT k.up)::integer AS downs,
           count(*)::integer AS reported,
           (array_agg(k.region ORDER BY k.checked_at, k.region) FILTER (WHERE k.up))[1]
               AS first_up,
           (array_agg(k.region ORDER BY k.checked_at, k.region) FILTER (WHERE NOT k.up))[1]
               AS first_down
      FROM k GROUP BY k.site_id, k.scheduled_at
)
SELECT t.site_id, t.scheduled_at, v.up, CASE WHEN v.up THEN t.first_up ELSE t.first_down END
  FROM t
  JOIN f ON f.site_id = t.site_id
 CROSS JOIN LATERAL (
        SELECT count(DISTINCT o.region)::integer AS out FROM outs o
         WHERE o.region = ANY (f.regions) AND o.started_at <= t.scheduled_at
           AND (o.ended_at IS NULL OR t.scheduled_at < o.ended_at)) n
 CROSS JOIN LATERAL (
        SELECT webmon_slot_up(t.ups, t.downs, cardinality(f.regions) - n.out, t.reported,
                              f.quorum) AS up) v
 WHERE v.up IS NOT NULL

-- region_state_starts --
-- Of the sites in recount_states, the latest state before `since`: where the recount of its
-- flips starts (a site whose window holds none is counted as a late result is).
SELECT r.site_id, max(r.scheduled_at)
  FROM recount_states r
 WHERE r.scheduled_at < %(since)s::timestamptz
 GROUP BY r.site_id

-- insert_region_state_events --
-- The flips between the states of recount_states after `afters` (that state included, as
-- the one before), each with the check that stands for its slot (insert_span_events' rule).
INSERT INTO site_events (site_id, scheduled_at, checked_at, from_up, to_up, status_code,
                         error, error_detail)
SELECT q.site_id, q.scheduled_at, c.checked_at, q.previous_up, q.up, c.status_code, c.error,
       c.error_detail
  FROM (SELECT r.site_id, r.scheduled_at, r.up, r.region, s.after,
               lag(r.up) OVER (PARTITION BY r.site_id ORDER BY r.scheduled_at) AS previous_up
          FROM unnest(%(site_ids)s::bigint[], %(afters)s::timestamptz[]) AS s(site_id, after)
          JOIN recount_states r ON r.site_id = s.site_id AND r.scheduled_at >= s.after) q
 CROSS JOIN LATERAL (
        SELECT c.checked_at, c.status_code, c.error, c.error_detail FROM check_results c
         WHERE c.site_id = q.site_id AND c.scheduled_at = q.scheduled_at
           AND c.region = q.region
        OFFSET 0) c
 WHERE q.scheduled_at > q.after AND q.previous_up IS DISTINCT FROM q.up
