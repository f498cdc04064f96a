-- Roles that could step around row level security are refused as
-- application roles, and isolation_report() flags one that becomes such a
-- role later, with the remedy. The channels PostgreSQL leaves open between
-- sessions of one role are closed for application roles where stratum can
-- close them, and reported with their remedy where it cannot.
\set a '''aaaaaaaa-0000-4000-8000-000000000001'''
\set b '''bbbbbbbb-0000-4000-8000-000000000002'''
CREATE EXTENSION IF NOT EXISTS dblink;

SET ROLE regress_owner;
CREATE TABLE rol_docs (id int PRIMARY KEY, body text);
SELECT stratum.enable_tenancy('rol_docs');
RESET ROLE;

-- 1. Refused at grant time: a member of the tables' owner, directly, through
-- a chain, without INHERIT; a member of a superuser or of a BYPASSRLS role;
-- CREATEROLE, REPLICATION, the server-file roles, the all-statistics roles.
CREATE ROLE rol_direct LOGIN;
GRANT regress_owner TO rol_direct;
CREATE ROLE rol_middle NOLOGIN;
GRANT regress_owner TO rol_middle;
CREATE ROLE rol_chain LOGIN;
GRANT rol_middle TO rol_chain;
CREATE ROLE rol_noinherit LOGIN NOINHERIT;
GRANT regress_owner TO rol_noinherit;
CREATE ROLE rol_admin_parent SUPERUSER NOLOGIN;
CREATE ROLE rol_super_member LOGIN;
GRANT rol_admin_parent TO rol_super_member;
CREATE ROLE rol_bypass_parent BYPASSRLS NOLOGIN;
CREATE ROLE rol_bypass_member LOGIN;
GRANT rol_bypass_parent TO rol_bypass_member;
CREATE ROLE rol_createrole LOGIN CREATEROLE;
CREATE ROLE rol_replication LOGIN REPLICATION;
CREATE ROLE rol_files LOGIN;
GRANT pg_read_server_files TO rol_files;
CREATE ROLE rol_monitor LOGIN;
GRANT pg_monitor TO rol_monitor;
SELECT r AS role, sqlstate_of(format('SELECT stratum.grant_app_role(%L)', r)) AS refused
  FROM unnest(ARRAY['rol_direct', 'rol_chain', 'rol_noinherit', 'rol_super_member',
                    'rol_bypass_member', 'rol_createrole', 'rol_replication', 'rol_files',
                    'rol_monitor']) AS r;
-- With its reason and remedy:
SELECT stratum.grant_app_role('rol_chain');
SELECT stratum.grant_app_role('rol_noinherit');
SELECT count(*) AS registered FROM stratum.app_roles WHERE role_name LIKE 'rol\_%';

-- What the refusal prevents: a member of the owner, even without INHERIT,
-- switches FORCE off and reads every tenant.
SET ROLE rol_noinherit;
SET ROLE regress_owner;
ALTER TABLE rol_docs NO FORCE ROW LEVEL SECURITY;
ALTER TABLE rol_docs FORCE ROW LEVEL SECURITY;
RESET ROLE;

-- 2. An application role that becomes such a role later is flagged.
CREATE ROLE rol_app LOGIN;
SELECT stratum.grant_app_role('rol_app');
SELECT kind, subject, verdict FROM stratum.isolation_report() WHERE subject = 'rol_app';
-- Privileges beyond DML on a tenant table, or on stratum's administration:
GRANT TRUNCATE, TRIGGER, REFERENCES ON rol_docs TO PUBLIC;
GRANT EXECUTE ON FUNCTION stratum.suspend_tenant(uuid) TO PUBLIC;
SELECT verdict, problem, remedy FROM stratum.isolation_risks()
 WHERE subject = 'rol_app' AND verdict = 'leak' ORDER BY problem;
REVOKE TRUNCATE, TRIGGER, REFERENCES ON rol_docs FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION stratum.suspend_tenant(uuid) FROM PUBLIC;
-- Memberships and attributes:
GRANT rol_middle TO rol_app;
ALTER ROLE rol_app CREATEROLE;
SELECT kind, subject, verdict, unnest(problems) AS problem
  FROM stratum.isolation_report() WHERE subject = 'rol_app' AND verdict = 'leak' ORDER BY problem;
SELECT verdict, problem, remedy FROM stratum.isolation_risks()
 WHERE subject = 'rol_app' AND verdict = 'leak' ORDER BY problem;
REVOKE rol_middle FROM rol_app;
ALTER ROLE rol_app NOCREATEROLE;
SELECT kind, subject, verdict FROM stratum.isolation_report() WHERE subject = 'rol_app';

-- 3. Channels between sessions of the role. A shared sequence: USAGE only,
-- so nextval works and last_value (every tenant's count) cannot be read.
SET ROLE regress_owner;
CREATE TABLE rol_serial (id serial PRIMARY KEY, body text);
SELECT stratum.enable_tenancy('rol_serial');
RESET ROLE;
SET ROLE rol_app;
BEGIN;
SELECT stratum.set_tenant(:a);
INSERT INTO rol_serial (body) VALUES ('acme');
SELECT last_value FROM rol_serial_id_seq;
ROLLBACK;
-- ... but USAGE is also enough for pg_sequence_last_value(), and so for the
-- pg_sequences view: the counter reads all the same.
BEGIN;
SELECT stratum.set_tenant(:a);
SELECT pg_sequence_last_value('rol_serial_id_seq') IS NOT NULL AS counter_read;
SELECT last_value IS NOT NULL AS counter_read_in_view FROM pg_sequences WHERE sequencename = 'rol_serial_id_seq';
ROLLBACK;
RESET ROLE;
SELECT verdict, problem, remedy FROM stratum.isolation_risks()
 WHERE subject = 'rol_app' AND problem LIKE '%pg_sequence_last_value%';
-- The remedy: the function refused, the report quiet.
REVOKE EXECUTE ON FUNCTION pg_sequence_last_value(regclass) FROM PUBLIC;
SET ROLE rol_app;
SELECT sqlstate_of($$SELECT pg_sequence_last_value('rol_serial_id_seq')$$) AS after_revoke;
RESET ROLE;
SELECT count(*) AS reported FROM stratum.isolation_risks()
 WHERE subject = 'rol_app' AND problem LIKE '%pg_sequence_last_value%';
GRANT EXECUTE ON FUNCTION pg_sequence_last_value(regclass) TO PUBLIC;
SET ROLE rol_app;
-- LISTEN and two-phase commit are refused to application roles.
LISTEN tenant_events;
BEGIN;
PREPARE TRANSACTION 'rol_tx';
ROLLBACK;
COMMIT PREPARED 'rol_tx';
ROLLBACK PREPARED 'rol_tx';
RESET ROLE;
-- A superuser may allow LISTEN for a role that keeps tenant data out of its
-- payloads; the report then says what that opens.
ALTER ROLE rol_app SET stratum.app_role_listen = on;
SELECT verdict, problem FROM stratum.isolation_risks()
 WHERE subject = 'rol_app' AND problem LIKE 'LISTEN%';
ALTER ROLE rol_app RESET stratum.app_role_listen;
-- So are rows kept on the connection past the transaction (escape has the
-- attack), unless a superuser allows them: for one session here, for the
-- role with ALTER ROLE, which the report then lists.
SET ROLE rol_app;
SELECT sqlstate_of('CREATE TEMP TABLE rol_kept (id int)') AS kept_rows;
RESET ROLE;
SET stratum.app_role_keep_rows = on;
SET ROLE rol_app;
CREATE TEMP TABLE rol_kept (id int);
DROP TABLE rol_kept;
BEGIN;
DECLARE rol_held CURSOR WITH HOLD FOR SELECT 1 AS one;
COMMIT;
FETCH rol_held;
CLOSE rol_held;
RESET ROLE;
RESET stratum.app_role_keep_rows;
ALTER ROLE rol_app SET stratum.app_role_keep_rows = on;
SELECT verdict, problem FROM stratum.isolation_risks()
 WHERE subject = 'rol_app' AND problem LIKE 'temporary%';
ALTER ROLE rol_app RESET stratum.app_role_keep_rows;
-- A table the role may create is its own: no row level security, shared by
-- every tenant's sessions, kept past every transaction. Acme's session
-- stashes its rows there, Globex's reads them.
GRANT CREATE ON SCHEMA public TO rol_app;
SET ROLE rol_app;
BEGIN;
SELECT stratum.set_tenant(:a);
INSERT INTO rol_serial (body) VALUES ('acme private');
CREATE TABLE rol_stash AS SELECT body FROM rol_serial;
COMMIT;
BEGIN;
SELECT stratum.set_tenant(:b);
SELECT count(*) AS globex_own_rows FROM rol_serial;
SELECT body AS globex_reads_from_stash FROM rol_stash;
COMMIT;
DROP TABLE rol_stash;
RESET ROLE;
SELECT verdict, problem, remedy FROM stratum.isolation_risks()
 WHERE subject = 'rol_app' AND problem LIKE 'may create tables%';
REVOKE CREATE ON SCHEMA public FROM rol_app;
SELECT count(*) AS reported_after_revoke FROM stratum.isolation_risks()
 WHERE subject = 'rol_app' AND problem LIKE 'may create tables%';
DELETE FROM rol_serial;
-- Every session of the role may cancel or end every other: one tenant's
-- session ends another tenant's (here one opened through dblink).
SELECT dblink_connect('victim', format('host=%s port=%s dbname=%s user=rol_app',
                      split_part(current_setting('unix_socket_directories'), ',', 1),
                      current_setting('port'), current_database()));
SELECT pid AS victim_pid FROM dblink('victim', 'SELECT pg_backend_pid()') AS t(pid int) \gset
SET ROLE rol_app;
SELECT pg_terminate_backend(:victim_pid, 10000) AS ended_another_tenants_session;
RESET ROLE;
SELECT dblink_disconnect('victim');
SELECT verdict, problem, remedy FROM stratum.isolation_risks()
 WHERE subject = 'rol_app' AND problem LIKE '%cancel or end%';
-- The remedy: the functions refused, the report quiet.
REVOKE EXECUTE ON FUNCTION pg_cancel_backend(integer), pg_terminate_backend(integer, bigint) FROM PUBLIC;
SET ROLE rol_app;
SELECT sqlstate_of('SELECT pg_terminate_backend(0)') AS terminate_after_revoke;
RESET ROLE;
SELECT count(*) AS reported FROM stratum.isolation_risks()
 WHERE subject = 'rol_app' AND problem LIKE '%cancel or end%';
GRANT EXECUTE ON FUNCTION pg_cancel_backend(integer), pg_terminate_backend(integer, bigint) TO PUBLIC;
-- Roles that are not application roles keep LISTEN.
SET ROLE regress_owner;
LISTEN owner_events;
UNLISTEN *;
RESET ROLE;
-- A SECURITY DEFINER function of a superuser reads for every tenant.
CREATE FUNCTION rol_all_docs() RETURNS bigint LANGUAGE sql SECURITY DEFINER
    AS 'SELECT count(*) FROM public.rol_docs';
-- The other channels are reported, each with its remedy.
SELECT verdict, problem, remedy FROM stratum.isolation_risks()
 WHERE subject = 'rol_app' ORDER BY verdict, problem;
SELECT kind, subject, verdict FROM stratum.isolation_risks()
 WHERE kind = 'setting' AND subject <> 'shared_preload_libraries' ORDER BY subject;
-- The refusals come with the library: a session that has not loaded it yet
-- is not refused anything. The suite runs with the library preloaded and
-- without; the report warns exactly when it is not.
SELECT count(*) = CASE WHEN current_setting('shared_preload_libraries') ~ 'stratum' THEN 0 ELSE 1 END
       AS warned_when_not_preloaded
  FROM stratum.isolation_risks() WHERE subject = 'shared_preload_libraries';
-- session_preload_libraries for every application role is the remedy that
-- needs no restart: a new session of the role is refused LISTEN as its
-- first statement, preloaded or not.
DO $$
DECLARE
    r name;
BEGIN
    FOR r IN SELECT role_name FROM stratum.app_roles LOOP
        EXECUTE format('ALTER ROLE %I SET session_preload_libraries = ''stratum''', r);
    END LOOP;
END
$$;
SELECT count(*) AS warned_with_session_preload
  FROM stratum.isolation_risks() WHERE subject = 'shared_preload_libraries';
SELECT dblink_connect('fresh', format('host=%s port=%s dbname=%s user=rol_app',
                      split_part(current_setting('unix_socket_directories'), ',', 1),
                      current_setting('port'), current_database()));
SELECT * FROM dblink('fresh', $$SELECT sqlstate_of('LISTEN tenant_events')$$) AS t(first_statement_listen text);
SELECT dblink_disconnect('fresh');
DO $$
DECLARE
    r name;
BEGIN
    FOR r IN SELECT role_name FROM stratum.app_roles LOOP
        EXECUTE format('ALTER ROLE %I RESET session_preload_libraries', r);
    END LOOP;
END
$$;
DROP FUNCTION rol_all_docs();
-- A trigger runs its function whoever writes, EXECUTE or not: a SECURITY
-- DEFINER trigger function of a superuser reads for every tenant on each
-- write. Here it stamps a new row with the count of every tenant's rows.
CREATE FUNCTION rol_stamp() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN
    NEW.seen := (SELECT count(*) FROM public.rol_stamped);
    RETURN NEW;
END
$$;
REVOKE EXECUTE ON FUNCTION rol_stamp() FROM PUBLIC;
SET ROLE regress_owner;
CREATE TABLE rol_stamped (id int, seen bigint);
SELECT stratum.enable_tenancy('rol_stamped');
RESET ROLE;
CREATE TRIGGER rol_stamp BEFORE INSERT ON rol_stamped FOR EACH ROW EXECUTE FUNCTION rol_stamp();
SET ROLE rol_app;
BEGIN;
SELECT stratum.set_tenant(:a);
INSERT INTO rol_stamped (id) VALUES (1), (2), (3);
COMMIT;
BEGIN;
SELECT stratum.set_tenant(:b);
SELECT count(*) AS globex_rows FROM rol_stamped;
INSERT INTO rol_stamped (id) VALUES (4) RETURNING seen AS rows_counted_for_globex;
ROLLBACK;
RESET ROLE;
SELECT verdict, problem, remedy FROM stratum.isolation_risks()
 WHERE subject = 'rol_app' AND problem LIKE '%rol_stamp%';
DROP TABLE rol_stamped;
DROP FUNCTION rol_stamp();

-- 4. Keys that every tenant draws from one counter lose their exemption;
-- random UUID keys keep it.
SET ROLE regress_owner;
CREATE TABLE rol_identity (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY);
SELECT stratum.enable_tenancy('rol_identity');
CREATE TABLE rol_uuid (id uuid DEFAULT gen_random_uuid() PRIMARY KEY);
SELECT stratum.enable_tenancy('rol_uuid');
RESET ROLE;
SELECT relation, verdict, (SELECT string_agg(p, '; ') FROM unnest(problems) p WHERE p LIKE 'warning:%') AS warnings
  FROM stratum.isolation_report()
 WHERE relation IN ('rol_serial'::regclass, 'rol_identity'::regclass, 'rol_uuid'::regclass)
 ORDER BY relation::text;
-- ... which is what the warning is about: Acme learns that a key it never
-- saw is taken (by Globex).
SET ROLE rol_app;
BEGIN;
SELECT stratum.set_tenant('bbbbbbbb-0000-4000-8000-000000000002');
INSERT INTO rol_identity DEFAULT VALUES;
COMMIT;
BEGIN;
SELECT stratum.set_tenant(:a);
SELECT count(*) AS acme_sees FROM rol_identity;
SELECT sqlstate_of('INSERT INTO rol_identity (id) OVERRIDING SYSTEM VALUE VALUES (1)') AS taken;
SELECT sqlstate_of('INSERT INTO rol_identity (id) OVERRIDING SYSTEM VALUE VALUES (2)') AS free;
ROLLBACK;
RESET ROLE;

-- 5. A login role confined to its tenants: a party with any SQL as that role
-- still acts for no other tenant. The session cannot lift it.
CREATE ROLE rol_acme_reader LOGIN;
GRANT rol_app TO rol_acme_reader;
SELECT stratum.allow_tenants('rol_acme_reader', ARRAY[:a::uuid]);
SELECT dblink_connect('confined', format('host=%s port=%s dbname=%s user=rol_acme_reader',
                      split_part(current_setting('unix_socket_directories'), ',', 1),
                      current_setting('port'), current_database()));
SELECT * FROM dblink('confined', $$SELECT current_setting('stratum.allowed_tenants')$$) AS t(allowed text);
SELECT * FROM dblink('confined', $$SELECT sqlstate_of('SELECT stratum.set_tenant(''aaaaaaaa-0000-4000-8000-000000000001'')')$$) AS t(acme text);
SELECT * FROM dblink('confined', $$SELECT sqlstate_of('SELECT stratum.set_tenant(''bbbbbbbb-0000-4000-8000-000000000002'')')$$) AS t(globex text);
SELECT * FROM dblink('confined', $$SELECT sqlstate_of('SET stratum.tenant_id = ''bbbbbbbb-0000-4000-8000-000000000002''')$$) AS t(globex_by_set text);
SELECT * FROM dblink('confined', $$SELECT sqlstate_of('SELECT ''bbbbbbbb-0000-4000-8000-000000000002''::stratum.tenant_param')$$) AS t(globex_by_param text);
SELECT * FROM dblink('confined', $$SELECT sqlstate_of('SELECT ''aaaaaaaa-0000-4000-8000-000000000001''::stratum.tenant_param')$$) AS t(acme_by_param text);
-- The same outside any block or subtransaction (the tenant kept beside the GUC).
SELECT * FROM dblink('confined', $$SELECT 'bbbbbbbb-0000-4000-8000-000000000002'::stratum.tenant_param::text$$) AS t(globex_bound text);
SELECT * FROM dblink('confined', $$SELECT sqlstate_of('SET stratum.allowed_tenants = ''''')$$) AS t(lift text);
SELECT * FROM dblink('confined', $$SELECT sqlstate_of('RESET ALL') || ' / ' || current_setting('stratum.allowed_tenants')$$) AS t(reset_all text);
SELECT * FROM dblink('confined', $$SELECT string_agg(slug, ',') FROM stratum.tenants$$) AS t(registry_lists text);
SELECT * FROM dblink('confined', $$SELECT sqlstate_of('SET ROLE rol_app') || ' / ' ||
                                   sqlstate_of('SELECT stratum.set_tenant(''bbbbbbbb-0000-4000-8000-000000000002'')')$$) AS t(as_member text);
SELECT dblink_disconnect('confined');
SELECT stratum.allow_tenants('rol_acme_reader', NULL);
SET ROLE rol_app;
SELECT sqlstate_of('SELECT stratum.allow_tenants(''rol_acme_reader'', NULL)') AS not_for_the_app;
RESET ROLE;
DROP ROLE rol_acme_reader;

SELECT stratum.revoke_app_role('rol_app');
DROP OWNED BY rol_app;
DROP TABLE rol_docs, rol_serial, rol_identity, rol_uuid;
DROP ROLE rol_direct, rol_chain, rol_middle, rol_noinherit, rol_super_member, rol_admin_parent,
          rol_bypass_member, rol_bypass_parent, rol_createrole, rol_replication, rol_files,
          rol_monitor, rol_app;
DROP EXTENSION dblink;
