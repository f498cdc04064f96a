-- Backends remember the tenants they found active. A suspension must reach
-- them however it is written: through stratum.suspend_tenant, or straight
-- into the registry with triggers off (session_replication_role = replica,
-- as logical replication apply and trigger-less restores run), or with the
-- registry's triggers disabled.
\set a '''aaaaaaaa-0000-4000-8000-000000000001'''
CREATE EXTENSION IF NOT EXISTS dblink;
SELECT dblink_connect('registry', format('host=%s port=%s dbname=%s user=postgres',
                      split_part(current_setting('unix_socket_directories'), ',', 1),
                      current_setting('port'), current_database()));
CREATE FUNCTION pg_temp.other(statement text) RETURNS text LANGUAGE sql
    AS $$ SELECT dblink_exec('registry', statement) $$;
-- What set_tenant(Acme) says here while the other session has Acme
-- suspended in replica mode, where no trigger fires (made active again after).
CREATE FUNCTION pg_temp.set_tenant_while_suspended_in_replica_mode() RETURNS text
    LANGUAGE plpgsql AS $$
DECLARE
    outcome text;
BEGIN
    PERFORM pg_temp.other('SET session_replication_role = replica');
    PERFORM pg_temp.other($q$UPDATE stratum.tenants SET status = 'suspended' WHERE slug = 'acme'$q$);
    outcome := sqlstate_of($q$SELECT stratum.set_tenant('aaaaaaaa-0000-4000-8000-000000000001')$q$);
    PERFORM pg_temp.other($q$UPDATE stratum.tenants SET status = 'active' WHERE slug = 'acme'$q$);
    PERFORM pg_temp.other('RESET session_replication_role');
    RETURN outcome;
END
$$;

-- This backend validates (and remembers) Acme. The third lookup and those
-- after it read the remembered row from the shared buffer it was last read
-- from, without opening the registry: every case below starts there.
\set remember 'SELECT count(stratum.set_tenant(''aaaaaaaa-0000-4000-8000-000000000001'')) FROM generate_series(1, 3)'
BEGIN;
:remember;
COMMIT;

-- Suspended by a replica-mode session, where no trigger fires.
SELECT pg_temp.set_tenant_while_suspended_in_replica_mode() AS replica_suspension;
SELECT sqlstate_of($$SELECT stratum.set_tenant('aaaaaaaa-0000-4000-8000-000000000001')$$) AS active_again;

-- Suspended with every trigger of the registry disabled.
SELECT pg_temp.other($$ALTER TABLE stratum.tenants DISABLE TRIGGER ALL$$);
SELECT pg_temp.other($$UPDATE stratum.tenants SET status = 'archived' WHERE slug = 'acme'$$);
SELECT sqlstate_of($$SELECT stratum.set_tenant('aaaaaaaa-0000-4000-8000-000000000001')$$) AS triggers_off;
SELECT pg_temp.other($$UPDATE stratum.tenants SET status = 'active' WHERE slug = 'acme'$$);
SELECT pg_temp.other($$ALTER TABLE stratum.tenants ENABLE TRIGGER ALL$$);

-- Deleted and its row's place reused: the remembered row is not mistaken
-- for the new one.
BEGIN;
:remember;
COMMIT;
SELECT pg_temp.other($$SET session_replication_role = replica$$);
SELECT pg_temp.other($$CREATE TEMP TABLE saved AS SELECT * FROM stratum.tenants WHERE slug = 'acme'$$);
SELECT pg_temp.other($$DELETE FROM stratum.tenants WHERE slug = 'acme'$$);
SELECT pg_temp.other($$VACUUM stratum.tenants$$);
SELECT sqlstate_of($$SELECT stratum.set_tenant('aaaaaaaa-0000-4000-8000-000000000001')$$) AS deleted;
SELECT pg_temp.other($$INSERT INTO stratum.tenants SELECT * FROM saved$$);
SELECT pg_temp.other($$RESET session_replication_role$$);
SELECT sqlstate_of($$SELECT stratum.set_tenant('aaaaaaaa-0000-4000-8000-000000000001')$$) AS restored;

-- Truncated and restored (a new file): remembered rows are forgotten.
BEGIN;
:remember;
COMMIT;
SELECT pg_temp.other($$CREATE TEMP TABLE all_tenants AS SELECT * FROM stratum.tenants$$);
SELECT pg_temp.other($$BEGIN$$);
SELECT pg_temp.other($$TRUNCATE stratum.tenants CASCADE$$);
SELECT pg_temp.other($$INSERT INTO stratum.tenants SELECT * FROM all_tenants WHERE slug <> 'acme'$$);
SELECT pg_temp.other($$COMMIT$$);
SELECT sqlstate_of($$SELECT stratum.set_tenant('aaaaaaaa-0000-4000-8000-000000000001')$$) AS truncated;
SELECT pg_temp.other($$INSERT INTO stratum.tenants SELECT * FROM all_tenants WHERE slug = 'acme'$$);
SELECT sqlstate_of($$SELECT stratum.set_tenant('aaaaaaaa-0000-4000-8000-000000000001')$$) AS back;

-- Rewritten (VACUUM FULL: a new file, the same rows) and then suspended:
-- the remembered buffer belongs to the old file.
BEGIN;
:remember;
COMMIT;
SELECT pg_temp.other($$VACUUM FULL stratum.tenants$$);
SELECT pg_temp.set_tenant_while_suspended_in_replica_mode() AS rewritten_then_suspended;
SELECT sqlstate_of($$SELECT stratum.set_tenant('aaaaaaaa-0000-4000-8000-000000000001')$$) AS active_after_rewrite;

-- Suspended by a transaction that commits after this one validated:
-- the tenant this transaction set stays, the next transaction is refused.
BEGIN;
:remember;
SELECT pg_temp.other($$DO $d$ BEGIN PERFORM stratum.suspend_tenant('aaaaaaaa-0000-4000-8000-000000000001'); END $d$ $$);
SELECT stratum.current_tenant() IS NOT NULL AS still_set;
COMMIT;
SELECT sqlstate_of($$SELECT stratum.set_tenant('aaaaaaaa-0000-4000-8000-000000000001')$$) AS suspended_meanwhile;
SELECT pg_temp.other($$UPDATE stratum.tenants SET status = 'active' WHERE slug = 'acme'$$);

-- Rewritten while a transaction holds the tenant, which it validated from
-- the remembered buffer, taking no lock on the registry (so the rewrite does
-- not wait for it): its next lookup finds that buffer gone, opens the
-- registry, and the invalidation that brings empties the cache under it.
BEGIN;
:remember;
COMMIT;
BEGIN;
:remember;
SELECT pg_temp.other($$SET lock_timeout = '10s'$$);
SELECT pg_temp.other($$VACUUM FULL stratum.tenants$$);
SELECT pg_temp.other($$RESET lock_timeout$$);
SELECT sqlstate_of($$SELECT stratum.set_tenant('aaaaaaaa-0000-4000-8000-000000000001')$$) AS rewritten_meanwhile;
:remember;
COMMIT;
SELECT count(*) AS tenants FROM stratum.tenants;

SELECT dblink_disconnect('registry');
DROP EXTENSION dblink;
