-- The kernel's durable state: jobs as submitted, their gapless event logs,
-- their results, and held reservations. Times are unix microseconds.

CREATE TABLE jobs (
    id              TEXT PRIMARY KEY,
    tenant          TEXT NOT NULL,
    trace_id        TEXT NOT NULL,
    device          TEXT NOT NULL,
    spec            TEXT NOT NULL,       -- the SubmitJob, JSON
    idempotency_key TEXT,
    created_at      INTEGER NOT NULL,
    recoveries      INTEGER NOT NULL DEFAULT 0,
    final_state     TEXT,
    finished_at     INTEGER
) WITHOUT ROWID;

CREATE UNIQUE INDEX jobs_idempotency ON jobs (tenant, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX jobs_finished_at ON jobs (finished_at);

CREATE TABLE events (
    job_id   TEXT NOT NULL,
    seq      INTEGER NOT NULL,
    state    TEXT NOT NULL,
    stage    TEXT,
    progress REAL,
    message  TEXT NOT NULL,
    ts       INTEGER NOT NULL,
    PRIMARY KEY (job_id, seq)
) WITHOUT ROWID;

CREATE TABLE results (
    job_id TEXT PRIMARY KEY,
    body   TEXT NOT NULL                 -- JobResults, JSON (large payloads are artifacts)
) WITHOUT ROWID;

CREATE TABLE reservations (
    id         TEXT PRIMARY KEY,
    tenant     TEXT NOT NULL,
    device     TEXT NOT NULL,
    purpose    TEXT NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
