-- stratum on a Citus coordinator with two workers: the extension, the roles
-- (a migration role that owns the tables, an application role), two
-- tenants, and sync_citus, which prepares the cluster (the registry's copy
-- on every node, the audit log distributed by tenant, grants on every node).
CREATE EXTENSION stratum;
CREATE EXTENSION dblink;
CREATE ROLE citus_owner LOGIN;
CREATE ROLE citus_app LOGIN;
GRANT CREATE ON SCHEMA public TO citus_owner;
SELECT stratum.grant_migrator_role('citus_owner');
SELECT stratum.grant_app_role('citus_app');
INSERT INTO stratum.tenants (id, slug, name) VALUES
    ('aaaaaaaa-0000-4000-8000-000000000001', 'acme', 'Acme Corp'),
    ('bbbbbbbb-0000-4000-8000-000000000002', 'globex', 'Globex Inc');
SELECT stratum.sync_citus();

-- A query on a node, as a role: a row of text per result row.
CREATE FUNCTION on_node(node text, role text, query text) RETURNS SETOF text
    LANGUAGE plpgsql AS $$
DECLARE
    port integer := (SELECT port FROM citus_test_nodes WHERE name = node);
    connection text := format('host=127.0.0.1 port=%s dbname=%s user=%s', port, current_database(), role);
BEGIN
    RETURN QUERY SELECT r FROM dblink(connection, query) AS t(r text);
END
$$;
-- The same, the error's SQLSTATE and message if it fails.
CREATE FUNCTION on_node_error(node text, role text, query text) RETURNS text
    LANGUAGE plpgsql AS $$
BEGIN
    PERFORM on_node(node, role, query);
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || regexp_replace(SQLERRM, '_[0-9]+', '_<shard>', 'g');
END
$$;
CREATE FUNCTION sqlstate_of(statement text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE statement;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || regexp_replace(SQLERRM, '_[0-9]+', '_<shard>', 'g');
END
$$;
GRANT EXECUTE ON FUNCTION sqlstate_of(text) TO PUBLIC;

-- Every worker has stratum, its copy of the registry and the grants.
SELECT name, on_node(name, 'postgres', $$SELECT (SELECT extversion FROM pg_extension WHERE extname = 'stratum')
                                          || ' ' || stratum._citus_registry_here()::text
                                          || ' ' || has_function_privilege('citus_owner', 'stratum.audit_row()', 'EXECUTE')::text$$)
  FROM citus_test_nodes WHERE name IN ('worker1', 'worker2') ORDER BY name;
SELECT logicalrelid, partmethod FROM pg_dist_partition ORDER BY logicalrelid::text;
