-- Installs the extension and the roles the suite runs as: a migration role
-- that owns the tables, and an application role that is neither owner nor
-- superuser (the isolation tests run as it).
CREATE EXTENSION stratum;
CREATE EXTENSION pageinspect;
SELECT e.extname, e.extversion, n.nspname AS schema, e.extrelocatable AS relocatable
  FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'stratum';

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

-- The shape of a statement's plan, a line per node: its type, relation,
-- index and conditions. A reference to an InitPlan's value reads <initplan>
-- on every server version ($0 up to 16, (InitPlan 1).col1 from 17 on).
CREATE FUNCTION plan_shape(statement text) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
    plan jsonb;
BEGIN
    EXECUTE 'EXPLAIN (COSTS OFF, FORMAT JSON) ' || statement INTO plan;
    RETURN QUERY
        WITH RECURSIVE nodes(node, depth, path) AS (
            SELECT plan -> 0 -> 'Plan', 0, ARRAY[0]
            UNION ALL
            SELECT child.value, n.depth + 1, n.path || child.ordinality::int
              FROM nodes n, jsonb_array_elements(n.node -> 'Plans') WITH ORDINALITY AS child
        )
        SELECT repeat('  ', depth) || concat_ws(' ',
                   CASE WHEN node ->> 'Parent Relationship' IN ('InitPlan', 'SubPlan')
                        THEN (node ->> 'Parent Relationship') || ':' END,
                   node ->> 'Node Type',
                   'on ' || (node ->> 'Relation Name'),
                   'using ' || (node ->> 'Index Name'),
                   'index cond ' || regexp_replace(node ->> 'Index Cond', '\$\d+|\(InitPlan \d+\)\.col\d+', '<initplan>', 'g'),
                   'recheck ' || regexp_replace(node ->> 'Recheck Cond', '\$\d+|\(InitPlan \d+\)\.col\d+', '<initplan>', 'g'),
                   'filter ' || regexp_replace(node ->> 'Filter', '\$\d+|\(InitPlan \d+\)\.col\d+', '<initplan>', 'g'))
          FROM nodes ORDER BY path;
END
$$;
GRANT EXECUTE ON FUNCTION plan_shape(text) TO PUBLIC;
