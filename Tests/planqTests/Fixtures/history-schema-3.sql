PRAGMA foreign_keys=OFF;
BEGIN TRANSACTION;
CREATE TABLE schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    checksum   TEXT NOT NULL,
    applied_at TEXT NOT NULL
) STRICT;
INSERT INTO schema_migrations VALUES(1,'0001_init.sql','8f32a3f32d671acd','2026-12-01T20:01:51.917Z');
INSERT INTO schema_migrations VALUES(2,'0002_fewer_job_indexes.sql','68551aa3e79a3aa7','2026-12-01T20:01:51.917Z');
INSERT INTO schema_migrations VALUES(3,'0003_step_results_by_job.sql','8a083d2634f5be1c','2026-12-01T20:01:51.917Z');
CREATE TABLE jobs (
    id               INTEGER PRIMARY KEY,
    idempotency_key  TEXT    NOT NULL UNIQUE,
    queue            TEXT    NOT NULL,
    priority         INTEGER NOT NULL CHECK (priority BETWEEN 0 AND 9),
    state            TEXT    NOT NULL CHECK (state IN ('pending', 'running', 'succeeded', 'failed', 'cancelled')),
    run_at           TEXT    NOT NULL,
    created_at       TEXT    NOT NULL,
    updated_at       TEXT    NOT NULL,
    finished_at      TEXT,
    plan             TEXT    NOT NULL CHECK (json_valid(plan)),
    result           TEXT    CHECK (result IS NULL OR json_valid(result)),
    last_error       TEXT    CHECK (last_error IS NULL OR json_valid(last_error)),
    runs             INTEGER NOT NULL DEFAULT 0,   -- claims so far
    cancel_requested INTEGER NOT NULL DEFAULT 0 CHECK (cancel_requested IN (0, 1)),
    lease_owner      TEXT,                          -- "host/pid", for people
    lease_host       TEXT,
    lease_boot_id    TEXT,
    lease_pid        INTEGER,
    lease_pid_start  INTEGER,                       -- the owner's start time, clock ticks after boot
    lease_expires_at TEXT,
    lease_token      INTEGER NOT NULL DEFAULT 0     -- fencing token: grows with every claim
) STRICT;
INSERT INTO jobs VALUES(1,'example/thumbnails-7','media',2,'succeeded','2026-12-01T20:01:51.923Z','2026-12-01T20:01:51.923Z','2026-12-01T20:01:52.113Z','2026-12-01T20:01:52.113Z','{"idempotency_key":"example/thumbnails-7","input":{"images":["a.png","b.png","c.png","d.png","e.png"]},"priority":2,"queue":"media","retry":{"backoff":"exponential","initial":"1s","jitter":"full","max":"5m","max_attempts":5,"multiplier":2,"non_retryable":[]},"steps":[{"call":"echo","id":"list","input":{"files":{"$input":"/images"}}},{"call":"echo","concurrency":2,"each":{"$ref":"list","path":"/files"},"id":"thumb","input":{"source":{"$item":""},"width":128}},{"call":"echo","id":"report","input":{"done":{"$ref":"thumb"}}}],"timeout":{"job":"5m","step":"30s"},"version":1}','{"done":[{"source":"a.png","width":128},{"source":"b.png","width":128},{"source":"c.png","width":128},{"source":"d.png","width":128},{"source":"e.png","width":128}]}',NULL,1,0,NULL,NULL,NULL,NULL,NULL,NULL,1);
INSERT INTO jobs VALUES(2,'example/flaky-upstream','default',0,'failed','2026-12-01T20:01:55.564Z','2026-12-01T20:01:51.950Z','2026-12-01T20:01:55.567Z','2026-12-01T20:01:55.567Z','{"idempotency_key":"example/flaky-upstream","input":{},"priority":0,"queue":"default","retry":{"backoff":"exponential","initial":"1s","jitter":"full","max":"5m","max_attempts":5,"multiplier":2,"non_retryable":["invalid_input"]},"steps":[{"call":"echo","id":"prepare","input":{"ready":true}},{"call":"fail","id":"upstream","input":{"code":"unavailable","message":"upstream answered 503","retryable":true},"retry":{"backoff":"exponential","initial":"100ms","jitter":"none","max":"1s","max_attempts":3,"multiplier":2,"non_retryable":["invalid_input"]}}],"timeout":{"step":"5m"},"version":1}',NULL,'{"attempt":3,"code":"unavailable","message":"upstream answered 503","retryable":true,"step":"upstream"}',6,0,NULL,NULL,NULL,NULL,NULL,NULL,6);
INSERT INTO jobs VALUES(3,'example/uname','ops',0,'succeeded','2026-12-01T20:01:51.977Z','2026-12-01T20:01:51.977Z','2026-12-01T20:01:52.111Z','2026-12-01T20:01:52.111Z','{"idempotency_key":"example/uname","input":{},"priority":0,"queue":"ops","retry":{"backoff":"exponential","initial":"1s","jitter":"full","max":"5m","max_attempts":5,"multiplier":2,"non_retryable":[]},"steps":[{"call":"process.run","id":"kernel","input":{"argv":["/usr/bin/uname","-sr"]},"timeout":"10s"},{"call":"echo","id":"note","input":{"kernel":{"$ref":"kernel","path":"/stdout"}}}],"timeout":{"step":"5m"},"version":1}','{"kernel":"Linux 6.18.44-fc-v1045\n"}',NULL,1,0,NULL,NULL,NULL,NULL,NULL,NULL,1);
INSERT INTO jobs VALUES(4,'example/welcome-ada','emails',0,'succeeded','2026-12-01T20:01:52.005Z','2026-12-01T20:01:52.005Z','2026-12-01T20:01:52.312Z','2026-12-01T20:01:52.312Z','{"idempotency_key":"example/welcome-ada","input":{"user":{"email":"ada@example.com","name":"Ada"}},"priority":0,"queue":"emails","retry":{"backoff":"exponential","initial":"1s","jitter":"full","max":"5m","max_attempts":5,"multiplier":2,"non_retryable":[]},"steps":[{"call":"echo","id":"profile","input":{"email":{"$input":"/user/email"},"name":{"$input":"/user/name"}}},{"call":"echo","id":"render","input":{"subject":"Welcome!","to":{"$ref":"profile","path":"/email"}}},{"call":"sleep","id":"pause","input":{"for":"200ms"}},{"call":"echo","id":"send","input":{"mail":{"$ref":"render"},"sent":true}}],"timeout":{"step":"5m"},"version":1}','{"mail":{"subject":"Welcome!","to":"ada@example.com"},"sent":true}',NULL,1,0,NULL,NULL,NULL,NULL,NULL,NULL,1);
INSERT INTO jobs VALUES(5,'fixture/cancelled-before-start','default',0,'cancelled','2026-12-01T21:01:55.201Z','2026-12-01T20:01:55.201Z','2026-12-01T20:01:59.263Z','2026-12-01T20:01:59.263Z','{"delay":"1h","idempotency_key":"fixture/cancelled-before-start","input":{},"priority":0,"queue":"default","retry":{"backoff":"exponential","initial":"1s","jitter":"full","max":"5m","max_attempts":5,"multiplier":2,"non_retryable":[]},"steps":[{"call":"echo","id":"only","input":{}}],"timeout":{"step":"5m"},"version":1}',NULL,NULL,0,0,NULL,NULL,NULL,NULL,NULL,NULL,0);
INSERT INTO jobs VALUES(6,'fixture/handed-back','default',0,'cancelled','2026-12-01T20:01:55.237Z','2026-12-01T20:01:55.237Z','2026-12-01T20:02:17.542Z','2026-12-01T20:02:17.542Z','{"idempotency_key":"fixture/handed-back","input":{},"priority":0,"queue":"default","retry":{"backoff":"exponential","initial":"1s","jitter":"full","max":"5m","max_attempts":5,"multiplier":2,"non_retryable":[]},"steps":[{"call":"echo","id":"first","input":{"n":1}},{"call":"sleep","id":"nap","input":{"for":"30s"}}],"timeout":{"step":"5m"},"version":1}',NULL,NULL,0,0,NULL,NULL,NULL,NULL,NULL,NULL,1);
INSERT INTO jobs VALUES(7,'fixture/owner-killed','default',0,'succeeded','2026-12-01T20:02:17.564Z','2026-12-01T20:02:17.564Z','2026-12-01T20:02:26.106Z','2026-12-01T20:02:26.106Z','{"idempotency_key":"fixture/owner-killed","input":{},"priority":0,"queue":"default","retry":{"backoff":"exponential","initial":"1s","jitter":"full","max":"5m","max_attempts":5,"multiplier":2,"non_retryable":[]},"steps":[{"call":"echo","id":"first","input":{"n":1}},{"call":"sleep","id":"nap","input":{"for":"2s"}}],"timeout":{"step":"5m"},"version":1}','{"slept":"2s"}',NULL,2,0,NULL,NULL,NULL,NULL,NULL,NULL,2);
CREATE TABLE step_results (
    id          INTEGER PRIMARY KEY,
    job_id      INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    step_id     TEXT    NOT NULL,
    attempt     INTEGER NOT NULL CHECK (attempt >= 1),
    outcome     TEXT    CHECK (outcome IN ('ok', 'error', 'cancelled')),
    output      TEXT    CHECK (output IS NULL OR json_valid(output)),
    error       TEXT    CHECK (error IS NULL OR json_valid(error)),
    started_at  TEXT    NOT NULL,
    finished_at TEXT,
    lease_token INTEGER NOT NULL,
    superseded  INTEGER NOT NULL DEFAULT 0 CHECK (superseded IN (0, 1))
) STRICT;
INSERT INTO step_results VALUES(1,1,'list',1,'ok','{"files":["a.png","b.png","c.png","d.png","e.png"]}',NULL,'2026-12-01T20:01:52.104Z','2026-12-01T20:01:52.108Z',1,0);
INSERT INTO step_results VALUES(2,2,'prepare',1,'ok','{"ready":true}',NULL,'2026-12-01T20:01:52.104Z','2026-12-01T20:01:52.108Z',1,0);
INSERT INTO step_results VALUES(3,3,'kernel',1,'ok','{"exit_code":0,"stderr":"","stdout":"Linux 6.18.44-fc-v1045\n"}',NULL,'2026-12-01T20:01:52.104Z','2026-12-01T20:01:52.110Z',1,0);
INSERT INTO step_results VALUES(4,4,'profile',1,'ok','{"email":"ada@example.com","name":"Ada"}',NULL,'2026-12-01T20:01:52.104Z','2026-12-01T20:01:52.107Z',1,0);
INSERT INTO step_results VALUES(5,4,'render',1,'ok','{"subject":"Welcome!","to":"ada@example.com"}',NULL,'2026-12-01T20:01:52.108Z','2026-12-01T20:01:52.110Z',1,0);
INSERT INTO step_results VALUES(6,2,'upstream',1,'error',NULL,'{"attempt":1,"code":"unavailable","message":"upstream answered 503","retryable":true,"step":"upstream"}','2026-12-01T20:01:52.108Z','2026-12-01T20:01:52.110Z',1,1);
INSERT INTO step_results VALUES(7,1,'thumb[0]',1,'ok','{"source":"a.png","width":128}',NULL,'2026-12-01T20:01:52.108Z','2026-12-01T20:01:52.110Z',1,0);
INSERT INTO step_results VALUES(8,1,'thumb[1]',1,'ok','{"source":"b.png","width":128}',NULL,'2026-12-01T20:01:52.108Z','2026-12-01T20:01:52.110Z',1,0);
INSERT INTO step_results VALUES(9,4,'pause',1,'ok','{"slept":"200ms"}',NULL,'2026-12-01T20:01:52.110Z','2026-12-01T20:01:52.311Z',1,0);
INSERT INTO step_results VALUES(10,1,'thumb[2]',1,'ok','{"source":"c.png","width":128}',NULL,'2026-12-01T20:01:52.110Z','2026-12-01T20:01:52.111Z',1,0);
INSERT INTO step_results VALUES(11,3,'note',1,'ok','{"kernel":"Linux 6.18.44-fc-v1045\n"}',NULL,'2026-12-01T20:01:52.110Z','2026-12-01T20:01:52.111Z',1,0);
INSERT INTO step_results VALUES(12,1,'thumb[3]',1,'ok','{"source":"d.png","width":128}',NULL,'2026-12-01T20:01:52.110Z','2026-12-01T20:01:52.112Z',1,0);
INSERT INTO step_results VALUES(13,1,'thumb[4]',1,'ok','{"source":"e.png","width":128}',NULL,'2026-12-01T20:01:52.111Z','2026-12-01T20:01:52.112Z',1,0);
INSERT INTO step_results VALUES(14,1,'thumb',1,'ok','[{"source":"a.png","width":128},{"source":"b.png","width":128},{"source":"c.png","width":128},{"source":"d.png","width":128},{"source":"e.png","width":128}]',NULL,'2026-12-01T20:01:52.112Z','2026-12-01T20:01:52.112Z',1,0);
INSERT INTO step_results VALUES(15,1,'report',1,'ok','{"done":[{"source":"a.png","width":128},{"source":"b.png","width":128},{"source":"c.png","width":128},{"source":"d.png","width":128},{"source":"e.png","width":128}]}',NULL,'2026-12-01T20:01:52.112Z','2026-12-01T20:01:52.113Z',1,0);
INSERT INTO step_results VALUES(16,2,'upstream',2,'error',NULL,'{"attempt":2,"code":"unavailable","message":"upstream answered 503","retryable":true,"step":"upstream"}','2026-12-01T20:01:52.213Z','2026-12-01T20:01:52.214Z',2,1);
INSERT INTO step_results VALUES(17,4,'send',1,'ok','{"mail":{"subject":"Welcome!","to":"ada@example.com"},"sent":true}',NULL,'2026-12-01T20:01:52.311Z','2026-12-01T20:01:52.312Z',1,0);
INSERT INTO step_results VALUES(18,2,'upstream',3,'error',NULL,'{"attempt":3,"code":"unavailable","message":"upstream answered 503","retryable":true,"step":"upstream"}','2026-12-01T20:01:52.416Z','2026-12-01T20:01:52.417Z',3,1);
INSERT INTO step_results VALUES(19,6,'first',1,'ok','{"n":1}',NULL,'2026-12-01T20:01:55.259Z','2026-12-01T20:01:55.261Z',1,0);
INSERT INTO step_results VALUES(20,2,'upstream',1,'error',NULL,'{"attempt":1,"code":"unavailable","message":"upstream answered 503","retryable":true,"step":"upstream"}','2026-12-01T20:01:55.261Z','2026-12-01T20:01:55.262Z',4,0);
INSERT INTO step_results VALUES(21,6,'nap',1,'cancelled',NULL,'{"attempt":1,"code":"cancelled","message":"cancelled","retryable":false,"step":"nap"}','2026-12-01T20:01:55.261Z','2026-12-01T20:02:07.244Z',1,1);
INSERT INTO step_results VALUES(22,2,'upstream',2,'error',NULL,'{"attempt":2,"code":"unavailable","message":"upstream answered 503","retryable":true,"step":"upstream"}','2026-12-01T20:01:55.363Z','2026-12-01T20:01:55.364Z',5,0);
INSERT INTO step_results VALUES(23,2,'upstream',3,'error',NULL,'{"attempt":3,"code":"unavailable","message":"upstream answered 503","retryable":true,"step":"upstream"}','2026-12-01T20:01:55.566Z','2026-12-01T20:01:55.567Z',6,0);
INSERT INTO step_results VALUES(24,7,'first',1,'ok','{"n":1}',NULL,'2026-12-01T20:02:17.594Z','2026-12-01T20:02:17.596Z',1,0);
INSERT INTO step_results VALUES(25,7,'nap',1,NULL,NULL,NULL,'2026-12-01T20:02:17.596Z',NULL,1,0);
INSERT INTO step_results VALUES(26,7,'nap',2,'ok','{"slept":"2s"}',NULL,'2026-12-01T20:02:24.105Z','2026-12-01T20:02:26.106Z',2,0);
CREATE TABLE job_events (
    id     INTEGER PRIMARY KEY,
    job_id INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    at     TEXT    NOT NULL,
    kind   TEXT    NOT NULL CHECK (kind IN ('enqueued', 'claimed', 'step_started', 'step_succeeded', 'step_failed',
                                            'retry_scheduled', 'lease_expired', 'released', 'succeeded', 'failed',
                                            'cancelled', 'retried')),
    detail TEXT    CHECK (detail IS NULL OR json_valid(detail))
) STRICT;
INSERT INTO job_events VALUES(1,1,'2026-12-01T20:01:51.923Z','enqueued','{"queue":"media","run_at":"2026-12-01T20:01:51.923Z"}');
INSERT INTO job_events VALUES(2,2,'2026-12-01T20:01:51.950Z','enqueued','{"queue":"default","run_at":"2026-12-01T20:01:51.950Z"}');
INSERT INTO job_events VALUES(3,3,'2026-12-01T20:01:51.977Z','enqueued','{"queue":"ops","run_at":"2026-12-01T20:01:51.977Z"}');
INSERT INTO job_events VALUES(4,4,'2026-12-01T20:01:52.005Z','enqueued','{"queue":"emails","run_at":"2026-12-01T20:01:52.005Z"}');
INSERT INTO job_events VALUES(5,1,'2026-12-01T20:01:52.104Z','claimed','{"owner":"vm/17454","run":1,"token":1}');
INSERT INTO job_events VALUES(6,2,'2026-12-01T20:01:52.104Z','claimed','{"owner":"vm/17454","run":1,"token":1}');
INSERT INTO job_events VALUES(7,3,'2026-12-01T20:01:52.104Z','claimed','{"owner":"vm/17454","run":1,"token":1}');
INSERT INTO job_events VALUES(8,4,'2026-12-01T20:01:52.104Z','claimed','{"owner":"vm/17454","run":1,"token":1}');
INSERT INTO job_events VALUES(9,1,'2026-12-01T20:01:52.104Z','step_started','{"attempt":1,"step":"list"}');
INSERT INTO job_events VALUES(10,2,'2026-12-01T20:01:52.104Z','step_started','{"attempt":1,"step":"prepare"}');
INSERT INTO job_events VALUES(11,3,'2026-12-01T20:01:52.104Z','step_started','{"attempt":1,"step":"kernel"}');
INSERT INTO job_events VALUES(12,4,'2026-12-01T20:01:52.104Z','step_started','{"attempt":1,"step":"profile"}');
INSERT INTO job_events VALUES(13,4,'2026-12-01T20:01:52.107Z','step_succeeded','{"attempt":1,"step":"profile"}');
INSERT INTO job_events VALUES(14,4,'2026-12-01T20:01:52.108Z','step_started','{"attempt":1,"step":"render"}');
INSERT INTO job_events VALUES(15,2,'2026-12-01T20:01:52.108Z','step_succeeded','{"attempt":1,"step":"prepare"}');
INSERT INTO job_events VALUES(16,2,'2026-12-01T20:01:52.108Z','step_started','{"attempt":1,"step":"upstream"}');
INSERT INTO job_events VALUES(17,1,'2026-12-01T20:01:52.108Z','step_succeeded','{"attempt":1,"step":"list"}');
INSERT INTO job_events VALUES(18,1,'2026-12-01T20:01:52.108Z','step_started','{"attempt":1,"step":"thumb[0]"}');
INSERT INTO job_events VALUES(19,1,'2026-12-01T20:01:52.108Z','step_started','{"attempt":1,"step":"thumb[1]"}');
INSERT INTO job_events VALUES(20,4,'2026-12-01T20:01:52.110Z','step_succeeded','{"attempt":1,"step":"render"}');
INSERT INTO job_events VALUES(21,4,'2026-12-01T20:01:52.110Z','step_started','{"attempt":1,"step":"pause"}');
INSERT INTO job_events VALUES(22,2,'2026-12-01T20:01:52.110Z','step_failed','{"attempt":1,"error":{"attempt":1,"code":"unavailable","message":"upstream answered 503","retryable":true,"step":"upstream"},"step":"upstream"}');
INSERT INTO job_events VALUES(23,1,'2026-12-01T20:01:52.110Z','step_succeeded','{"attempt":1,"step":"thumb[0]"}');
INSERT INTO job_events VALUES(24,1,'2026-12-01T20:01:52.110Z','step_succeeded','{"attempt":1,"step":"thumb[1]"}');
INSERT INTO job_events VALUES(25,1,'2026-12-01T20:01:52.110Z','step_started','{"attempt":1,"step":"thumb[2]"}');
INSERT INTO job_events VALUES(26,3,'2026-12-01T20:01:52.110Z','step_succeeded','{"attempt":1,"step":"kernel"}');
INSERT INTO job_events VALUES(27,3,'2026-12-01T20:01:52.110Z','step_started','{"attempt":1,"step":"note"}');
INSERT INTO job_events VALUES(28,1,'2026-12-01T20:01:52.110Z','step_started','{"attempt":1,"step":"thumb[3]"}');
INSERT INTO job_events VALUES(29,2,'2026-12-01T20:01:52.111Z','retry_scheduled','{"error":{"attempt":1,"code":"unavailable","message":"upstream answered 503","retryable":true,"step":"upstream"},"run_at":"2026-12-01T20:01:52.211Z"}');
INSERT INTO job_events VALUES(30,1,'2026-12-01T20:01:52.111Z','step_succeeded','{"attempt":1,"step":"thumb[2]"}');
INSERT INTO job_events VALUES(31,3,'2026-12-01T20:01:52.111Z','step_succeeded','{"attempt":1,"step":"note"}');
INSERT INTO job_events VALUES(32,3,'2026-12-01T20:01:52.111Z','succeeded',NULL);
INSERT INTO job_events VALUES(33,1,'2026-12-01T20:01:52.111Z','step_started','{"attempt":1,"step":"thumb[4]"}');
INSERT INTO job_events VALUES(34,1,'2026-12-01T20:01:52.112Z','step_succeeded','{"attempt":1,"step":"thumb[3]"}');
INSERT INTO job_events VALUES(35,1,'2026-12-01T20:01:52.112Z','step_succeeded','{"attempt":1,"step":"thumb[4]"}');
INSERT INTO job_events VALUES(36,1,'2026-12-01T20:01:52.112Z','step_started','{"attempt":1,"step":"thumb"}');
INSERT INTO job_events VALUES(37,1,'2026-12-01T20:01:52.112Z','step_succeeded','{"attempt":1,"step":"thumb"}');
INSERT INTO job_events VALUES(38,1,'2026-12-01T20:01:52.112Z','step_started','{"attempt":1,"step":"report"}');
INSERT INTO job_events VALUES(39,1,'2026-12-01T20:01:52.113Z','step_succeeded','{"attempt":1,"step":"report"}');
INSERT INTO job_events VALUES(40,1,'2026-12-01T20:01:52.113Z','succeeded',NULL);
INSERT INTO job_events VALUES(41,2,'2026-12-01T20:01:52.212Z','claimed','{"owner":"vm/17454","run":2,"token":2}');
INSERT INTO job_events VALUES(42,2,'2026-12-01T20:01:52.213Z','step_started','{"attempt":2,"step":"upstream"}');
INSERT INTO job_events VALUES(43,2,'2026-12-01T20:01:52.214Z','step_failed','{"attempt":2,"error":{"attempt":2,"code":"unavailable","message":"upstream answered 503","retryable":true,"step":"upstream"},"step":"upstream"}');
INSERT INTO job_events VALUES(44,2,'2026-12-01T20:01:52.214Z','retry_scheduled','{"error":{"attempt":2,"code":"unavailable","message":"upstream answered 503","retryable":true,"step":"upstream"},"run_at":"2026-12-01T20:01:52.414Z"}');
INSERT INTO job_events VALUES(45,4,'2026-12-01T20:01:52.311Z','step_succeeded','{"attempt":1,"step":"pause"}');
INSERT INTO job_events VALUES(46,4,'2026-12-01T20:01:52.311Z','step_started','{"attempt":1,"step":"send"}');
INSERT INTO job_events VALUES(47,4,'2026-12-01T20:01:52.312Z','step_succeeded','{"attempt":1,"step":"send"}');
INSERT INTO job_events VALUES(48,4,'2026-12-01T20:01:52.312Z','succeeded',NULL);
INSERT INTO job_events VALUES(49,2,'2026-12-01T20:01:52.415Z','claimed','{"owner":"vm/17454","run":3,"token":3}');
INSERT INTO job_events VALUES(50,2,'2026-12-01T20:01:52.416Z','step_started','{"attempt":3,"step":"upstream"}');
INSERT INTO job_events VALUES(51,2,'2026-12-01T20:01:52.417Z','step_failed','{"attempt":3,"error":{"attempt":3,"code":"unavailable","message":"upstream answered 503","retryable":true,"step":"upstream"},"step":"upstream"}');
INSERT INTO job_events VALUES(52,2,'2026-12-01T20:01:52.417Z','failed','{"error":{"attempt":3,"code":"unavailable","message":"upstream answered 503","retryable":true,"step":"upstream"}}');
INSERT INTO job_events VALUES(53,5,'2026-12-01T20:01:55.201Z','enqueued','{"queue":"default","run_at":"2026-12-01T21:01:55.201Z"}');
INSERT INTO job_events VALUES(54,2,'2026-12-01T20:01:55.219Z','retried','{"from":null}');
INSERT INTO job_events VALUES(55,6,'2026-12-01T20:01:55.237Z','enqueued','{"queue":"default","run_at":"2026-12-01T20:01:55.237Z"}');
INSERT INTO job_events VALUES(56,2,'2026-12-01T20:01:55.259Z','claimed','{"owner":"vm/17518","run":4,"token":4}');
INSERT INTO job_events VALUES(57,6,'2026-12-01T20:01:55.259Z','claimed','{"owner":"vm/17518","run":1,"token":1}');
INSERT INTO job_events VALUES(58,6,'2026-12-01T20:01:55.259Z','step_started','{"attempt":1,"step":"first"}');
INSERT INTO job_events VALUES(59,2,'2026-12-01T20:01:55.261Z','step_started','{"attempt":1,"step":"upstream"}');
INSERT INTO job_events VALUES(60,6,'2026-12-01T20:01:55.261Z','step_succeeded','{"attempt":1,"step":"first"}');
INSERT INTO job_events VALUES(61,6,'2026-12-01T20:01:55.261Z','step_started','{"attempt":1,"step":"nap"}');
INSERT INTO job_events VALUES(62,2,'2026-12-01T20:01:55.262Z','step_failed','{"attempt":1,"error":{"attempt":1,"code":"unavailable","message":"upstream answered 503","retryable":true,"step":"upstream"},"step":"upstream"}');
INSERT INTO job_events VALUES(63,2,'2026-12-01T20:01:55.262Z','retry_scheduled','{"error":{"attempt":1,"code":"unavailable","message":"upstream answered 503","retryable":true,"step":"upstream"},"run_at":"2026-12-01T20:01:55.362Z"}');
INSERT INTO job_events VALUES(64,2,'2026-12-01T20:01:55.362Z','claimed','{"owner":"vm/17518","run":5,"token":5}');
INSERT INTO job_events VALUES(65,2,'2026-12-01T20:01:55.363Z','step_started','{"attempt":2,"step":"upstream"}');
INSERT INTO job_events VALUES(66,2,'2026-12-01T20:01:55.364Z','step_failed','{"attempt":2,"error":{"attempt":2,"code":"unavailable","message":"upstream answered 503","retryable":true,"step":"upstream"},"step":"upstream"}');
INSERT INTO job_events VALUES(67,2,'2026-12-01T20:01:55.364Z','retry_scheduled','{"error":{"attempt":2,"code":"unavailable","message":"upstream answered 503","retryable":true,"step":"upstream"},"run_at":"2026-12-01T20:01:55.564Z"}');
INSERT INTO job_events VALUES(68,2,'2026-12-01T20:01:55.565Z','claimed','{"owner":"vm/17518","run":6,"token":6}');
INSERT INTO job_events VALUES(69,2,'2026-12-01T20:01:55.566Z','step_started','{"attempt":3,"step":"upstream"}');
INSERT INTO job_events VALUES(70,2,'2026-12-01T20:01:55.567Z','step_failed','{"attempt":3,"error":{"attempt":3,"code":"unavailable","message":"upstream answered 503","retryable":true,"step":"upstream"},"step":"upstream"}');
INSERT INTO job_events VALUES(71,2,'2026-12-01T20:01:55.567Z','failed','{"error":{"attempt":3,"code":"unavailable","message":"upstream answered 503","retryable":true,"step":"upstream"}}');
INSERT INTO job_events VALUES(72,5,'2026-12-01T20:01:59.263Z','cancelled','{"by":"planq cancel"}');
INSERT INTO job_events VALUES(73,6,'2026-12-01T20:02:07.244Z','step_failed','{"attempt":1,"error":{"attempt":1,"code":"cancelled","message":"cancelled","retryable":false,"step":"nap"},"step":"nap"}');
INSERT INTO job_events VALUES(74,6,'2026-12-01T20:02:07.245Z','released','{"token":1}');
INSERT INTO job_events VALUES(75,6,'2026-12-01T20:02:17.542Z','cancelled','{"by":"planq cancel"}');
INSERT INTO job_events VALUES(76,7,'2026-12-01T20:02:17.564Z','enqueued','{"queue":"default","run_at":"2026-12-01T20:02:17.564Z"}');
INSERT INTO job_events VALUES(77,7,'2026-12-01T20:02:17.594Z','claimed','{"owner":"vm/17613","run":1,"token":1}');
INSERT INTO job_events VALUES(78,7,'2026-12-01T20:02:17.594Z','step_started','{"attempt":1,"step":"first"}');
INSERT INTO job_events VALUES(79,7,'2026-12-01T20:02:17.596Z','step_succeeded','{"attempt":1,"step":"first"}');
INSERT INTO job_events VALUES(80,7,'2026-12-01T20:02:17.596Z','step_started','{"attempt":1,"step":"nap"}');
INSERT INTO job_events VALUES(81,7,'2026-12-01T20:02:24.101Z','lease_expired','{"reason":"owner pid 17613 is gone","token":1}');
INSERT INTO job_events VALUES(82,7,'2026-12-01T20:02:24.103Z','claimed','{"owner":"vm/17623","run":2,"token":2}');
INSERT INTO job_events VALUES(83,7,'2026-12-01T20:02:24.105Z','step_started','{"attempt":2,"step":"nap"}');
INSERT INTO job_events VALUES(84,7,'2026-12-01T20:02:26.106Z','step_succeeded','{"attempt":2,"step":"nap"}');
INSERT INTO job_events VALUES(85,7,'2026-12-01T20:02:26.106Z','succeeded',NULL);
CREATE TABLE capabilities (
    name          TEXT PRIMARY KEY,
    worker        TEXT NOT NULL,
    registered_at TEXT NOT NULL
) STRICT;
INSERT INTO capabilities VALUES('echo','vm/17623','2026-12-01T20:02:19.096Z');
INSERT INTO capabilities VALUES('fail','vm/17623','2026-12-01T20:02:19.096Z');
INSERT INTO capabilities VALUES('http.request','vm/17623','2026-12-01T20:02:19.096Z');
INSERT INTO capabilities VALUES('process.run','vm/17623','2026-12-01T20:02:19.096Z');
INSERT INTO capabilities VALUES('sleep','vm/17623','2026-12-01T20:02:19.096Z');
CREATE TABLE queues (
    name        TEXT    PRIMARY KEY,
    paused      INTEGER NOT NULL DEFAULT 0 CHECK (paused IN (0, 1)),
    max_pending INTEGER CHECK (max_pending IS NULL OR max_pending >= 0)
) STRICT;
INSERT INTO queues VALUES('media',0,NULL);
INSERT INTO queues VALUES('default',0,NULL);
INSERT INTO queues VALUES('ops',0,NULL);
INSERT INTO queues VALUES('emails',0,NULL);
CREATE INDEX jobs_due ON jobs (queue, priority, run_at, id) WHERE state = 'pending';
CREATE INDEX jobs_running ON jobs (lease_expires_at) WHERE state = 'running';
CREATE UNIQUE INDEX step_results_attempt ON step_results (job_id, step_id, attempt) WHERE superseded = 0;
CREATE UNIQUE INDEX step_results_one_ok ON step_results (job_id, step_id) WHERE outcome = 'ok' AND superseded = 0;
CREATE INDEX job_events_job ON job_events (job_id, id);
CREATE VIEW job_overview AS
SELECT j.id,
       j.idempotency_key,
       j.queue,
       j.priority,
       j.state,
       j.runs,
       (SELECT count(*) FROM step_results s WHERE s.job_id = j.id AND s.outcome = 'ok' AND s.superseded = 0
          AND instr(s.step_id, '[') = 0) AS steps_done,
       json_array_length(j.plan, '$.steps') AS steps_total,
       j.run_at,
       j.created_at,
       j.finished_at,
       j.last_error ->> '$.code' AS error_code,
       j.last_error ->> '$.message' AS error_message
FROM jobs j;
CREATE VIEW job_history AS
SELECT e.job_id, j.idempotency_key, e.id AS event_id, e.at, e.kind, e.detail
FROM job_events e JOIN jobs j ON j.id = e.job_id;
CREATE INDEX jobs_finished ON jobs (finished_at, state, queue) WHERE finished_at IS NOT NULL;
CREATE INDEX step_results_job ON step_results (job_id);
COMMIT;
