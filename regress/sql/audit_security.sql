-- The audit log is tenant-isolated and append-only: a tenant reads only its
-- own entries, and no one but the log's owner changes or removes any.
\set a '''aaaaaaaa-0000-4000-8000-000000000001'''
\set b '''bbbbbbbb-0000-4000-8000-000000000002'''

SET ROLE regress_owner;
CREATE TABLE secrets_audited (id int PRIMARY KEY, body text);
SELECT stratum.enable_tenancy('secrets_audited');
SELECT stratum.enable_audit('secrets_audited');
RESET ROLE;
SELECT stratum.grant_app_role('regress_app');
SET ROLE regress_app;
BEGIN;
SELECT stratum.set_tenant(:a);
INSERT INTO secrets_audited VALUES (1, 'acme secret');
COMMIT;
BEGIN;
SELECT stratum.set_tenant(:b);
INSERT INTO secrets_audited VALUES (2, 'globex secret');
COMMIT;

-- Each tenant sees its own entries and nothing of the other's.
BEGIN;
SELECT stratum.set_tenant(:a);
SELECT operation, row_key, new_row ->> 'body' AS body FROM stratum.audit_log
 WHERE table_oid = 'secrets_audited'::regclass ORDER BY id;
SELECT count(*) AS other_tenants_entries FROM stratum.audit_log WHERE tenant_id IS DISTINCT FROM :a;
SELECT count(*) AS via_row_history FROM stratum.row_history('secrets_audited', '2');
COMMIT;
BEGIN;
SELECT stratum.set_tenant(:b);
SELECT operation, row_key, new_row ->> 'body' AS body FROM stratum.audit_log
 WHERE table_oid = 'secrets_audited'::regclass ORDER BY id;
COMMIT;
-- No tenant, no entries: the same error as any tenant table.
SELECT count(*) FROM stratum.audit_log;

-- The application can neither change nor forge entries.
BEGIN;
SELECT stratum.set_tenant(:a);
SELECT sqlstate_of('UPDATE stratum.audit_log SET actor = ''mallory''');
SELECT sqlstate_of('DELETE FROM stratum.audit_log');
SELECT sqlstate_of('TRUNCATE stratum.audit_log');
SELECT sqlstate_of('TRUNCATE stratum.audit_log_default');
SELECT sqlstate_of('DELETE FROM stratum.audit_log_default');
SELECT sqlstate_of(format(
    'INSERT INTO stratum.audit_log (logged_at, xact_id, tenant_id, db_user, table_oid, table_schema, table_name, operation) '
    'VALUES (now(), pg_current_xact_id(), %L, ''forged'', 0, ''public'', ''x'', ''DELETE'')', :a));
SELECT sqlstate_of('SELECT nextval(''stratum.audit_log_id_seq'')');
SELECT sqlstate_of('SELECT stratum.disable_audit(''secrets_audited'')');
SELECT sqlstate_of('SELECT stratum.drop_audit_partitions(now())');
COMMIT;
RESET ROLE;

-- What grant_app_role gave: reading the log and the row history, nothing more.
SELECT privilege, has_table_privilege('regress_app', 'stratum.audit_log', privilege) AS granted
  FROM unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER']) AS privilege;
SELECT f, has_function_privilege('regress_app', f, 'EXECUTE') AS granted
  FROM unnest(ARRAY['stratum.row_history(regclass, jsonb)', 'stratum.enable_audit(regclass, text[])',
                    'stratum.disable_audit(regclass)', 'stratum.create_audit_partitions(integer)',
                    'stratum.drop_audit_partitions(timestamptz, boolean)', 'stratum.audited_tables()']) AS f;

-- A role that was granted more (a confused migrator) meets the guard.
GRANT UPDATE, DELETE, TRUNCATE ON stratum.audit_log, stratum.audit_log_default TO regress_owner;
SET ROLE regress_owner;
BEGIN;
SELECT stratum.set_tenant(:a);
UPDATE stratum.audit_log SET actor = 'mallory';
ROLLBACK;
BEGIN;
SELECT stratum.set_tenant(:a);
DELETE FROM stratum.audit_log_default;
ROLLBACK;
TRUNCATE stratum.audit_log;
TRUNCATE stratum.audit_log_default;
-- Retention belongs to the owner as well.
SELECT stratum.drop_audit_partitions(now());
RESET ROLE;
REVOKE UPDATE, DELETE, TRUNCATE ON stratum.audit_log, stratum.audit_log_default FROM regress_owner;

-- A table owner cannot switch the log's triggers or policies off: it owns
-- neither the log nor its partitions.
SET ROLE regress_owner;
ALTER TABLE stratum.audit_log DISABLE TRIGGER stratum_append_only;
ALTER TABLE stratum.audit_log NO FORCE ROW LEVEL SECURITY;
DROP POLICY stratum_tenant_isolation ON stratum.audit_log;
RESET ROLE;

-- The log is a tenant table in the isolation report, and a healthy one.
SELECT relation, kind, tenant_column, rls_enabled, rls_forced, isolation_policy, tenant_index, verdict
  FROM stratum.isolation_report() WHERE relation::text LIKE 'stratum.audit_log%' ORDER BY 1;

-- pg_dump keeps the log's rows: it is registered as extension configuration.
SELECT unnest(extconfig)::regclass AS dumped FROM pg_extension WHERE extname = 'stratum' ORDER BY 1;

-- The log's index finds every entry, by tenant and time or by row key, both
-- in block ranges it has summarized (entries written there update it) and
-- in the rest.
-- (A tenant-isolated table: only its rows name the tenant of their entries.)
CREATE TABLE indexed_audited (id int PRIMARY KEY, tenant_id uuid NOT NULL);
SELECT stratum.enable_tenancy('indexed_audited');
SELECT stratum.enable_audit('indexed_audited');
INSERT INTO indexed_audited SELECT g, CASE WHEN g % 2 = 0 THEN :a::uuid ELSE :b::uuid END
  FROM generate_series(1, 3000) g;
SELECT brin_summarize_new_values('stratum.audit_log_default_tenant_id_logged_at_row_key_idx') > 0 AS summarized;
-- A few entries into the summarized range update its summary; a run of
-- them makes the range unsummarized again (cheaper than rewriting the
-- summary per entry), until it is summarized once more.
INSERT INTO indexed_audited SELECT g, CASE WHEN g % 2 = 0 THEN :a::uuid ELSE :b::uuid END
  FROM generate_series(3001, 3005) g;
SELECT count(*) AS summarized_ranges FROM brin_revmap_data(get_raw_page('stratum.audit_log_default_tenant_id_logged_at_row_key_idx', 1)) AS r
 WHERE r.pages NOT IN ('(0,0)', '(4294967295,0)') \gset
INSERT INTO indexed_audited SELECT g, CASE WHEN g % 2 = 0 THEN :a::uuid ELSE :b::uuid END
  FROM generate_series(3006, 3100) g;
SELECT :summarized_ranges - count(*) AS ranges_forgotten
  FROM brin_revmap_data(get_raw_page('stratum.audit_log_default_tenant_id_logged_at_row_key_idx', 1)) AS r
 WHERE r.pages NOT IN ('(0,0)', '(4294967295,0)');
SET enable_seqscan = off;
SELECT plan_shape(format($$SELECT count(*) FROM stratum.audit_log WHERE tenant_id = %L AND logged_at > '2000-01-01'$$, :b));
SELECT count(*) AS via_brin FROM stratum.audit_log
 WHERE tenant_id = :b AND logged_at > '2000-01-01' AND table_oid = 'indexed_audited'::regclass;
SELECT plan_shape($$SELECT * FROM stratum.audit_log WHERE row_key = '{"id": 2999}'$$);
SELECT count(*) AS via_row_key_bloom FROM stratum.audit_log
 WHERE row_key IN ('{"id": 1}', '{"id": 2999}', '{"id": 3001}', '{"id": 3100}')
   AND table_oid = 'indexed_audited'::regclass;
RESET enable_seqscan;
SELECT count(*) AS via_scan FROM stratum.audit_log
 WHERE tenant_id = :b AND logged_at > '2000-01-01' AND table_oid = 'indexed_audited'::regclass;
