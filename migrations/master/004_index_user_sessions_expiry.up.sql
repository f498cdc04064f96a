-- stratum: no-transaction
-- stratum: depends 2
-- For the job that purges expired sessions. Built concurrently, so sign-ins
-- keep writing while it builds; hence outside a transaction. Safe to run
-- again: an interrupted build leaves an INVALID index, dropped first.
DROP INDEX CONCURRENTLY IF EXISTS user_sessions_expires_at;
CREATE INDEX CONCURRENTLY user_sessions_expires_at ON user_sessions (expires_at);
