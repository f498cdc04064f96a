-- Installs the extension and the roles the suite runs as: a migration role
-- that owns the tables, and an application role that is neither owner nor
-- superuser (the isolation tests run as it).
CREATE EXTENSION stratum;
\dx stratum

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'regress_owner') THEN
        CREATE ROLE regress_owner LOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'regress_app') THEN
        CREATE ROLE regress_app LOGIN;
    END IF;
END
$$;
GRANT CREATE ON SCHEMA public TO regress_owner;
DO $$ BEGIN EXECUTE format('GRANT CREATE ON DATABASE %I TO regress_owner', current_database()); END $$;
SELECT stratum.grant_migrator_role('regress_owner');

-- Two tenants with fixed ids so that expected output is stable.
INSERT INTO stratum.tenants (id, slug, name) VALUES
    ('aaaaaaaa-0000-4000-8000-000000000001', 'acme', 'Acme Corp'),
    ('bbbbbbbb-0000-4000-8000-000000000002', 'globex', 'Globex Inc');

-- The SQLSTATE and message of a statement's error, for asserting codes.
CREATE FUNCTION sqlstate_of(statement text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE statement;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;
GRANT EXECUTE ON FUNCTION sqlstate_of(text) TO PUBLIC;
