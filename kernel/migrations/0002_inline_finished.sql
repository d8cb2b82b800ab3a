-- A job that finished in the transaction that inserted it (a short
-- simulator run done while it was submitted) keeps its event log and its
-- results in its own row: `log` is a JSON array of its events, each
-- [seq, state, stage, progress, message, ts], and `results` its JobResults
-- as JSON. Such a job has no rows in `events` or `results`. Its commit then
-- writes one table row (and two small index entries) instead of rows in
-- four b-trees, about half the pages.
--
-- Jobs also become a rowid table (the id stays unique): new rows append
-- at the end of the table, where SQLite splits a full page by starting a
-- new one, instead of rebalancing three siblings as it does in an index
-- b-tree (a WITHOUT ROWID table is one), and rows of a kilobyte or more
-- stay on their page instead of overflowing.

CREATE TABLE jobs_v2 (
    id              TEXT NOT NULL UNIQUE,
    tenant          TEXT NOT NULL,
    trace_id        TEXT NOT NULL,
    device          TEXT NOT NULL,
    spec            TEXT NOT NULL,       -- the SubmitJob, JSON
    idempotency_key TEXT,
    created_at      INTEGER NOT NULL,
    recoveries      INTEGER NOT NULL DEFAULT 0,
    final_state     TEXT,
    finished_at     INTEGER,
    log             TEXT,                -- events of a job finished at insert
    results         TEXT                 -- results of a job finished at insert
);

INSERT INTO jobs_v2 (id, tenant, trace_id, device, spec, idempotency_key, created_at,
                     recoveries, final_state, finished_at)
    SELECT id, tenant, trace_id, device, spec, idempotency_key, created_at,
           recoveries, final_state, finished_at
    FROM jobs ORDER BY id;

DROP TABLE jobs;
ALTER TABLE jobs_v2 RENAME TO jobs;

CREATE UNIQUE INDEX jobs_idempotency ON jobs (tenant, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX jobs_finished_at ON jobs (finished_at);
