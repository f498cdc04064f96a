-- isolation_report() finds the tables and views that leak.
SET ROLE regress_owner;

-- Healthy: made by enable_tenancy / create_base_table.
CREATE TABLE good (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), body text);
SELECT stratum.enable_tenancy('good');

-- tenant_id but no RLS at all.
CREATE TABLE no_rls (id int, tenant_id uuid NOT NULL);
CREATE INDEX ON no_rls (tenant_id);

-- RLS enabled but not forced: the owner sees every tenant.
CREATE TABLE not_forced (id int);
SELECT stratum.enable_tenancy('not_forced');
ALTER TABLE not_forced NO FORCE ROW LEVEL SECURITY;

-- Policy dropped, and policy replaced by a weaker one of the same name.
CREATE TABLE no_policy (id int);
SELECT stratum.enable_tenancy('no_policy');
DROP POLICY stratum_tenant_isolation ON no_policy;
CREATE TABLE weak_policy (id int);
SELECT stratum.enable_tenancy('weak_policy');
ALTER POLICY stratum_tenant_isolation ON weak_policy USING (true);

-- No index led by tenant_id.
CREATE TABLE no_index (id int);
SELECT stratum.enable_tenancy('no_index');
DROP INDEX no_index_tenant_id_idx;

-- Unique key without tenant_id (an existence oracle) and a foreign key to a
-- tenant table without tenant_id (a cross-tenant reference).
CREATE TABLE accounts (id int PRIMARY KEY, email text UNIQUE);
SELECT stratum.enable_tenancy('accounts');
CREATE TABLE invoices (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                       account_id int REFERENCES accounts (id));
SELECT stratum.enable_tenancy('invoices');
-- tenant_id as a covered column of a unique index is no part of its key.
CREATE TABLE accounts_covered (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), email text NOT NULL);
SELECT stratum.enable_tenancy('accounts_covered');
CREATE UNIQUE INDEX accounts_covered_email ON accounts_covered (email) INCLUDE (tenant_id);
-- The fixed shape: keys and references that carry tenant_id.
CREATE TABLE accounts_fixed (id int, email text, tenant_id uuid NOT NULL,
                             PRIMARY KEY (tenant_id, id), UNIQUE (tenant_id, email));
SELECT stratum.enable_tenancy('accounts_fixed');
CREATE TABLE invoices_fixed (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), account_id int,
                             tenant_id uuid NOT NULL,
                             FOREIGN KEY (tenant_id, account_id) REFERENCES accounts_fixed (tenant_id, id));
SELECT stratum.enable_tenancy('invoices_fixed');

-- Views: security_invoker is the safe form; a materialized view copies rows
-- out of RLS's reach; a view of a shared table is fine.
CREATE VIEW good_invoker WITH (security_invoker = true) AS SELECT id FROM good;
CREATE VIEW good_definer AS SELECT id FROM good;
CREATE VIEW nested_definer AS SELECT id FROM good_definer;
CREATE TABLE countries (code text PRIMARY KEY);
CREATE VIEW country_codes AS SELECT code FROM countries;
RESET ROLE;
CREATE MATERIALIZED VIEW good_snapshot AS SELECT id FROM good;
-- A view owned by a superuser reads every tenant's rows.
CREATE VIEW superuser_view AS SELECT id FROM good;
-- A partition whose RLS was switched off.
CREATE TABLE parted (id int, tenant_id uuid NOT NULL) PARTITION BY LIST (id);
CREATE TABLE parted_1 PARTITION OF parted FOR VALUES IN (1);
SELECT stratum.enable_tenancy('parted');
ALTER TABLE parted_1 DISABLE ROW LEVEL SECURITY;

SELECT relation, kind, tenant_column AS tenant, rls_enabled AS rls, rls_forced AS forced,
       isolation_policy AS policy, tenant_index AS indexed, audited, verdict
  FROM stratum.isolation_report()
 WHERE relation::text NOT LIKE '%Robert%' AND relation::text NOT LIKE 'events%'
 ORDER BY relation::text;

SELECT relation, unnest(problems) AS problem
  FROM stratum.isolation_report()
 WHERE verdict IN ('leak', 'warning') AND relation::text NOT LIKE '%Robert%'
 ORDER BY relation::text, problem;

-- Fixing a table with enable_tenancy makes its verdict ok again.
SELECT stratum.enable_tenancy('no_rls');
SELECT stratum.enable_tenancy('not_forced');
SELECT stratum.enable_tenancy('weak_policy');
SELECT stratum.enable_tenancy('parted');
SELECT relation, verdict FROM stratum.isolation_report()
 WHERE relation::text IN ('no_rls', 'not_forced', 'weak_policy', 'parted', 'parted_1')
 ORDER BY relation::text;

-- What the report finds wrong with the relations whose names match a pattern.
CREATE FUNCTION pg_temp.problems_of(pattern text)
    RETURNS TABLE (relation regclass, verdict text, problem text) LANGUAGE sql AS $$
    SELECT r.relation, r.verdict, unnest(r.problems) AS problem FROM stratum.isolation_report() r
     WHERE r.relation::text ~ pattern AND r.problems <> '{}' ORDER BY r.relation::text, problem
$$;

-- An exclusion constraint that does not compare tenant_id with = is the
-- same oracle as a unique key: whether an insert conflicts depends on other
-- tenants' rows. PostgreSQL withholds the conflicting row's values from the
-- error when row level security applies; the report names the constraint.
\set a aaaaaaaa-0000-4000-8000-000000000001
\set b bbbbbbbb-0000-4000-8000-000000000002
CREATE EXTENSION IF NOT EXISTS btree_gist;
SET ROLE regress_owner;
CREATE TABLE bookings (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), room int NOT NULL,
                       during tstzrange NOT NULL,
                       EXCLUDE USING gist (room WITH =, during WITH &&));
SELECT stratum.enable_tenancy('bookings');
-- A room for one tenant at a time: tenant_id is there, compared with <>.
CREATE TABLE room_claims (room int NOT NULL, tenant_id uuid NOT NULL,
                          CONSTRAINT one_tenant_per_room EXCLUDE USING gist (room WITH =, tenant_id WITH <>));
SELECT stratum.enable_tenancy('room_claims');
-- The fixed shape: tenant_id WITH = in every exclusion constraint.
CREATE TABLE bookings_fixed (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), room int NOT NULL,
                             during tstzrange NOT NULL, tenant_id uuid NOT NULL,
                             EXCLUDE USING gist (tenant_id WITH =, room WITH =, during WITH &&),
                             EXCLUDE USING btree (tenant_id WITH =, id WITH =));
SELECT stratum.enable_tenancy('bookings_fixed');
RESET ROLE;

-- The attack: Globex asks whether anyone has room 7 from 10:00 to 11:00.
SET ROLE regress_app;
BEGIN;
SELECT stratum.set_tenant(:'a');
INSERT INTO bookings (room, during) VALUES (7, '[2026-12-01 10:00Z, 2026-12-01 11:00Z)');
INSERT INTO bookings_fixed (room, during) VALUES (7, '[2026-12-01 10:00Z, 2026-12-01 11:00Z)');
INSERT INTO room_claims (room) VALUES (7);
COMMIT;
BEGIN;
SELECT stratum.set_tenant(:'b');
SELECT count(*) AS bookings_globex_sees FROM bookings;
-- Answered by another tenant's row: the oracle the report warns of.
SELECT sqlstate_of($$INSERT INTO bookings (room, during) VALUES (7, '[2026-12-01 10:30Z, 2026-12-01 10:45Z)')$$);
SELECT sqlstate_of($$INSERT INTO bookings (room, during) VALUES (8, '[2026-12-01 10:30Z, 2026-12-01 10:45Z)')$$);
SELECT sqlstate_of($$INSERT INTO room_claims (room) VALUES (7)$$);
-- ... without the other tenant's values in the error's detail.
DO $$
DECLARE
    detail text;
BEGIN
    INSERT INTO bookings (room, during) VALUES (7, '[2026-12-01 10:30Z, 2026-12-01 10:45Z)');
EXCEPTION WHEN exclusion_violation THEN
    GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
    RAISE NOTICE 'detail: %', detail;
END
$$;
-- With tenant_id WITH =, Acme's booking is no answer.
SELECT sqlstate_of($$INSERT INTO bookings_fixed (room, during) VALUES (7, '[2026-12-01 10:30Z, 2026-12-01 10:45Z)')$$);
ROLLBACK;
RESET ROLE;

SELECT * FROM pg_temp.problems_of('^(bookings|room_claims|bookings_fixed)$');
DROP TABLE bookings, room_claims, bookings_fixed;
DROP EXTENSION btree_gist;

-- A key made on one partition alone is the same oracle there: the report
-- checks a partition's own keys, and leaves those made with its parent's to
-- the parent's row.
SET ROLE regress_owner;
CREATE TABLE members (id uuid DEFAULT gen_random_uuid(), region int NOT NULL, email text NOT NULL,
                      tenant_id uuid NOT NULL, PRIMARY KEY (tenant_id, region, id))
    PARTITION BY LIST (region);
CREATE TABLE members_eu PARTITION OF members FOR VALUES IN (1);
CREATE TABLE members_us PARTITION OF members FOR VALUES IN (2);
CREATE UNIQUE INDEX members_eu_email ON members_eu (email);
ALTER TABLE members_us ADD CONSTRAINT members_us_one_email EXCLUDE USING btree (email WITH =);
SELECT stratum.enable_tenancy('members');
RESET ROLE;
SET ROLE regress_app;
BEGIN;
SELECT stratum.set_tenant(:'a');
INSERT INTO members (region, email) VALUES (1, 'ceo@acme.test'), (2, 'cfo@acme.test');
COMMIT;
BEGIN;
SELECT stratum.set_tenant(:'b');
SELECT sqlstate_of($$INSERT INTO members (region, email) VALUES (1, 'ceo@acme.test')$$) AS eu_probe;
SELECT sqlstate_of($$INSERT INTO members (region, email) VALUES (2, 'cfo@acme.test')$$) AS us_probe;
ROLLBACK;
RESET ROLE;
SELECT * FROM pg_temp.problems_of('^members');
DROP TABLE members;

-- A rule runs its actions with its table's owner's privileges: a superuser's
-- rule reads every tenant's rows, as a superuser's view does.
SET ROLE regress_owner;
CREATE TABLE rule_docs (id int, body text);
SELECT stratum.enable_tenancy('rule_docs');
RESET ROLE;
CREATE TABLE rule_inbox (id int, note text);
CREATE RULE inbox_peek AS ON INSERT TO rule_inbox DO ALSO
    SELECT count(*) AS docs_seen FROM rule_docs;
GRANT INSERT ON rule_inbox TO regress_app;
SET ROLE regress_app;
BEGIN;
SELECT stratum.set_tenant(:'a');
INSERT INTO rule_docs VALUES (1, 'acme doc');
COMMIT;
BEGIN;
SELECT stratum.set_tenant(:'b');
INSERT INTO rule_docs VALUES (2, 'globex doc'), (3, 'globex doc');
SELECT count(*) AS docs_globex_reads FROM rule_docs;
INSERT INTO rule_inbox VALUES (1, 'hello');
ROLLBACK;
RESET ROLE;
SELECT * FROM pg_temp.problems_of('^rule_');
DROP TABLE rule_inbox, rule_docs;

-- A foreign table with tenant_id: row level security cannot apply to one, so
-- every tenant's rows are read through it.
CREATE EXTENSION file_fdw;
CREATE SERVER regress_files FOREIGN DATA WRAPPER file_fdw;
SELECT current_setting('data_directory') || '/regress_foreign_docs.csv' AS docs_file \gset
COPY (VALUES (:'a'::uuid, 'acme secret'), (:'b'::uuid, 'globex secret')) TO :'docs_file' (FORMAT csv);
CREATE FOREIGN TABLE foreign_docs (tenant_id uuid, body text)
    SERVER regress_files OPTIONS (filename :'docs_file', format 'csv');
GRANT SELECT ON foreign_docs TO regress_app;
SET ROLE regress_app;
BEGIN;
SELECT stratum.set_tenant(:'b');
SELECT body AS globex_reads FROM foreign_docs ORDER BY body;
ROLLBACK;
RESET ROLE;
SELECT relation, kind, verdict, unnest(problems) AS problem
  FROM stratum.isolation_report() WHERE relation::text = 'foreign_docs';
DROP FOREIGN TABLE foreign_docs;
DROP SERVER regress_files;
DROP EXTENSION file_fdw;
