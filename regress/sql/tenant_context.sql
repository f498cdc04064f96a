-- stratum.tenant_id / set_tenant / current_tenant / set_actor.

-- No tenant: a clear 42501 error that says how to set one; _or_null is NULL.
SELECT stratum.current_tenant();
SELECT sqlstate_of('SELECT stratum.current_tenant()');
SELECT stratum.current_tenant_or_null() IS NULL AS no_tenant;

-- Invalid text is refused when it is SET, not later.
SET stratum.tenant_id = 'not-a-uuid';
SET stratum.tenant_id = 'aaaaaaaa-0000-4000-8000-00000000000';
SET stratum.tenant_id = ' aaaaaaaa-0000-4000-8000-000000000001';
SET stratum.tenant_id = 'aaaaaaaa-0000-4000-8000-000000000001; DROP TABLE x';
SELECT set_config('stratum.tenant_id', 'zzzzzzzz-0000-4000-8000-000000000001', true);
SELECT sqlstate_of($$SET stratum.tenant_id = 'nope'$$);
-- One wrong character in any of the 36 places is refused, as set_tenant's
-- parameter and as the setting: a hex digit where a hyphen goes, a hyphen or
-- a letter past 'f' where a digit goes (and a lone multibyte character,
-- which changes the length).
SELECT count(*) AS cases,
       count(*) FILTER (WHERE sqlstate_of(format('SET LOCAL stratum.tenant_id = %L', bad)) LIKE '22P02:%') AS setting_refused,
       count(*) FILTER (WHERE sqlstate_of(format('SELECT %L::stratum.tenant_param', bad)) LIKE '22P02:%') AS parameter_refused
  FROM generate_series(1, 36) AS i,
       LATERAL (VALUES (CASE WHEN i IN (9, 14, 19, 24) THEN 'a' ELSE 'g' END),
                       (CASE WHEN i IN (9, 14, 19, 24) THEN '0' ELSE '-' END),
                       ('é')) AS c(ch),
       LATERAL (SELECT overlay('aaaaaaaa-0000-4000-8000-000000000001' PLACING ch FROM i FOR 1)) AS b(bad);

-- A well-formed UUID that is not a registered tenant is refused too.
SET stratum.tenant_id = '99999999-0000-4000-8000-000000000009';
SELECT stratum.set_tenant('99999999-0000-4000-8000-000000000009');
SELECT sqlstate_of($$SELECT stratum.set_tenant('99999999-0000-4000-8000-000000000009')$$);
SELECT stratum.set_tenant(NULL);

-- set_tenant lasts exactly one transaction: gone after COMMIT and ROLLBACK.
BEGIN;
SELECT stratum.set_tenant('aaaaaaaa-0000-4000-8000-000000000001');
SELECT stratum.current_tenant();
SHOW stratum.tenant_id;
COMMIT;
SELECT stratum.current_tenant_or_null() IS NULL AS gone_after_commit;
SHOW stratum.tenant_id;
BEGIN;
SELECT stratum.set_tenant('bbbbbbbb-0000-4000-8000-000000000002');
SELECT stratum.current_tenant();
ROLLBACK;
SELECT stratum.current_tenant_or_null() IS NULL AS gone_after_rollback;

-- SET LOCAL works like set_tenant; a later set in the same transaction wins.
BEGIN;
SET LOCAL stratum.tenant_id = 'aaaaaaaa-0000-4000-8000-000000000001';
SELECT stratum.current_tenant();
SELECT stratum.set_tenant('bbbbbbbb-0000-4000-8000-000000000002');
SELECT stratum.current_tenant();
COMMIT;

-- A session-level SET does not carry into the next transaction either.
SET stratum.tenant_id = 'aaaaaaaa-0000-4000-8000-000000000001';
SELECT stratum.current_tenant();
SELECT stratum.current_tenant_or_null() IS NULL AS session_set_is_not_context;
BEGIN;
SET stratum.tenant_id = 'aaaaaaaa-0000-4000-8000-000000000001';
SELECT stratum.current_tenant();
COMMIT;
SELECT stratum.current_tenant_or_null() IS NULL AS gone_after_commit;
RESET stratum.tenant_id;

-- Tenant context set inside a subtransaction that rolls back is undone.
BEGIN;
SELECT stratum.set_tenant('aaaaaaaa-0000-4000-8000-000000000001');
SAVEPOINT s;
SELECT stratum.set_tenant('bbbbbbbb-0000-4000-8000-000000000002');
ROLLBACK TO SAVEPOINT s;
SELECT stratum.current_tenant();
COMMIT;

-- Defaults that would give every transaction of a session a tenant are refused.
ALTER ROLE regress_app SET stratum.tenant_id = 'aaaaaaaa-0000-4000-8000-000000000001';
DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET stratum.tenant_id = %L', current_database(), 'aaaaaaaa-0000-4000-8000-000000000001'); END $$;
ALTER ROLE regress_app SET stratum.actor = 'someone';

-- The stratum prefix is reserved: a mistyped parameter is an error, not a no-op.
SET stratum.tenant = 'aaaaaaaa-0000-4000-8000-000000000001';

-- Suspended tenants cannot be set; active again, they can.
SELECT stratum.suspend_tenant('bbbbbbbb-0000-4000-8000-000000000002');
SELECT stratum.set_tenant('bbbbbbbb-0000-4000-8000-000000000002');
SELECT sqlstate_of($$SELECT stratum.set_tenant('bbbbbbbb-0000-4000-8000-000000000002')$$);
SELECT stratum.activate_tenant('bbbbbbbb-0000-4000-8000-000000000002');
BEGIN;
SELECT stratum.set_tenant('bbbbbbbb-0000-4000-8000-000000000002');
SELECT stratum.current_tenant();
COMMIT;
SELECT stratum.suspend_tenant('cccccccc-0000-4000-8000-000000000003');

-- A tenant created earlier in the same transaction can be set at once.
BEGIN;
SELECT stratum.create_tenant('initech', 'Initech') AS initech \gset
SELECT stratum.set_tenant(:'initech');
SELECT stratum.current_tenant() = :'initech' AS initech_is_current;
ROLLBACK;

-- Backends remember the tenants they found active. A tenant created and set
-- in a transaction that rolls back is not remembered: it does not exist.
BEGIN;
SELECT stratum.create_tenant('ephemeral', 'Ephemeral') AS ephemeral \gset
SELECT stratum.set_tenant(:'ephemeral');
ROLLBACK;
SELECT sqlstate_of(format('SELECT stratum.set_tenant(%L)', :'ephemeral')) LIKE '42704:%' AS unknown_again;

-- A suspension made by another session takes effect in this session's next
-- transaction, although this session validated the tenant before.
CREATE EXTENSION IF NOT EXISTS dblink;
BEGIN;
SELECT stratum.set_tenant('aaaaaaaa-0000-4000-8000-000000000001');
COMMIT;
SELECT dblink_connect('other', format('host=%s port=%s dbname=%s user=postgres',
                      split_part(current_setting('unix_socket_directories'), ',', 1),
                      current_setting('port'), current_database()));
SELECT * FROM dblink('other', $$SELECT stratum.suspend_tenant('aaaaaaaa-0000-4000-8000-000000000001')::text$$) AS t(suspended text);
SELECT stratum.set_tenant('aaaaaaaa-0000-4000-8000-000000000001');
SELECT * FROM dblink('other', $$SELECT stratum.activate_tenant('aaaaaaaa-0000-4000-8000-000000000001')::text$$) AS t(activated text);
BEGIN;
SELECT stratum.set_tenant('aaaaaaaa-0000-4000-8000-000000000001');
COMMIT;
SELECT dblink_disconnect('other');
DROP EXTENSION dblink;

-- stratum.tenant_param: a statement parameter that sets the tenant when it
-- is bound (what libstratum sends instead of a set_tenant statement). The
-- same checks as set_tenant, for the transaction only.
PREPARE by_param(stratum.tenant_param) AS SELECT stratum.current_tenant()::text AS bound;
BEGIN;
EXECUTE by_param('aaaaaaaa-0000-4000-8000-000000000001');
SELECT stratum.current_tenant()::text AS still_set;
EXECUTE by_param('bbbbbbbb-0000-4000-8000-000000000002');
COMMIT;
SELECT stratum.current_tenant_or_null() IS NULL AS gone_after_commit;
EXECUTE by_param('aaaaaaaa-0000-4000-8000-000000000001');
SELECT stratum.current_tenant_or_null() IS NULL AS gone_after_implicit_transaction;
SELECT sqlstate_of($$EXECUTE by_param('dddddddd-0000-4000-8000-000000000004')$$) AS unknown;
SELECT stratum.suspend_tenant('bbbbbbbb-0000-4000-8000-000000000002');
SELECT sqlstate_of($$EXECUTE by_param('bbbbbbbb-0000-4000-8000-000000000002')$$) AS suspended;
SELECT stratum.activate_tenant('bbbbbbbb-0000-4000-8000-000000000002');
SELECT sqlstate_of($$EXECUTE by_param('not a uuid')$$) AS malformed;
SELECT sqlstate_of($$EXECUTE by_param('AAAAAAAA-0000-4000-8000-000000000001 ')$$) AS padded;
-- NULL sets nothing: the statement then has no tenant.
SELECT sqlstate_of($$EXECUTE by_param(NULL)$$) AS null_sets_none;
BEGIN;
SELECT stratum.set_tenant('bbbbbbbb-0000-4000-8000-000000000002');
SELECT sqlstate_of($$EXECUTE by_param('dddddddd-0000-4000-8000-000000000004')$$) AS refused_in_block;
ROLLBACK;
-- Outside a transaction block (no savepoint can roll it back) the tenant is
-- kept beside the GUC rather than in it (tenant_context.cpp): refused with
-- the same errors, shown the same way, and whichever of it and the GUC was
-- set later in the transaction is the tenant; a subtransaction rolled back
-- returns to it.
EXECUTE by_param('dddddddd-0000-4000-8000-000000000004');
SELECT stratum.set_tenant('dddddddd-0000-4000-8000-000000000004');
SELECT stratum.suspend_tenant('bbbbbbbb-0000-4000-8000-000000000002');
EXECUTE by_param('bbbbbbbb-0000-4000-8000-000000000002');
SELECT stratum.activate_tenant('bbbbbbbb-0000-4000-8000-000000000002');
DO $$
DECLARE
    seen text[] := '{}';
BEGIN
    PERFORM 'aaaaaaaa-0000-4000-8000-000000000001'::stratum.tenant_param;
    seen := seen || left(stratum.current_tenant()::text, 1)
                 || left(current_setting('stratum.tenant_id'), 1);
    PERFORM set_config('stratum.tenant_id', 'bbbbbbbb-0000-4000-8000-000000000002', true);
    seen := seen || left(stratum.current_tenant()::text, 1);
    PERFORM stratum.set_tenant('aaaaaaaa-0000-4000-8000-000000000001');
    seen := seen || left(stratum.current_tenant()::text, 1)
                 || left(current_setting('stratum.tenant_id'), 1);
    BEGIN
        PERFORM stratum.set_tenant('bbbbbbbb-0000-4000-8000-000000000002');
        seen := seen || left(stratum.current_tenant()::text, 1);
        RAISE EXCEPTION 'rolled back';
    EXCEPTION WHEN raise_exception THEN
        seen := seen || left(stratum.current_tenant()::text, 1);
    END;
    PERFORM set_config('stratum.tenant_id', '', true);
    seen := seen || coalesce(stratum.current_tenant_or_null()::text, 'none');
    PERFORM stratum.set_tenant('aaaaaaaa-0000-4000-8000-000000000001');
    RESET stratum.tenant_id;
    seen := seen || coalesce(stratum.current_tenant_or_null()::text, 'none');
    PERFORM stratum.set_tenant('aaaaaaaa-0000-4000-8000-000000000001');
    SET LOCAL stratum.tenant_id TO DEFAULT;
    seen := seen || coalesce(stratum.current_tenant_or_null()::text, 'none');
    RAISE NOTICE 'bound a, shown a; set_config b; bound a, shown a; in a subtransaction b, rolled back a; cleared, bound a and reset, bound a and set to default: %',
        array_to_string(seen, ' ');
END
$$;
SELECT stratum.current_tenant_or_null() IS NULL AS none_after_the_statement,
       current_setting('stratum.tenant_id') AS shown_after_the_statement;
SELECT 'aaaaaaaa-0000-4000-8000-000000000001'::stratum.tenant_param::text AS prints_the_uuid;
DEALLOCATE by_param;

-- Tenant registration validates slug and name, hostile ones included.
SELECT stratum.create_tenant('Acme Corp', 'Acme');
SELECT stratum.create_tenant('x''; DROP TABLE stratum.tenants; --', 'x');
SELECT stratum.create_tenant('-acme', 'x');
SELECT stratum.create_tenant(repeat('a', 64), 'x');
SELECT stratum.create_tenant('acme', 'Acme again');
SELECT sqlstate_of($$SELECT stratum.create_tenant('acme', 'Acme again')$$);
SELECT stratum.create_tenant('ok-slug', '');
SELECT stratum.create_tenant(NULL, 'x');
SELECT count(*) AS tenants FROM stratum.tenants;

-- The actor: transaction-local, bounded, no control characters.
BEGIN;
SELECT stratum.set_actor('user:42 (alice@example.com)');
SELECT stratum.current_actor();
COMMIT;
SELECT stratum.current_actor() IS NULL AS actor_gone;
SELECT stratum.set_actor(repeat('x', 257));
SELECT stratum.set_actor(E'evil\nactor');
SELECT stratum.set_actor('');
SELECT stratum.set_actor(NULL);
BEGIN;
SELECT stratum.set_actor($$Robert'); DROP TABLE students;--$$);
SELECT stratum.current_actor();
COMMIT;

-- Nothing in schema stratum is open to PUBLIC: a role grant_app_role has not
-- registered cannot reach the schema. (Only the context functions may be
-- run by any role: they guard nothing, since any role may SET
-- stratum.tenant_id, and policies run them as the reading role.)
SET ROLE regress_app;
SELECT stratum.current_tenant_or_null() IS NULL AS context_functions_open;
SELECT stratum.create_tenant('by-public', 'x');
SELECT stratum.suspend_tenant('aaaaaaaa-0000-4000-8000-000000000001');
SELECT count(*) FROM stratum.tenants;
RESET ROLE;
