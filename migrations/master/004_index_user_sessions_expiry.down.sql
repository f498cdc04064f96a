DROP INDEX CONCURRENTLY IF EXISTS user_sessions_expires_at;
