-- The base model: one call creates a tenant table with the standard columns,
-- tenancy, timestamps and audit.

CREATE FUNCTION stratum._statement_tags(sql text) RETURNS text[]
    AS 'MODULE_PATHNAME', 'stratum_statement_tags'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION stratum._statement_tags(text) IS
    'Command tag of each statement in a SQL string, as parsed by the server (nothing is run)';

-- Not pinned to a search_path: an unqualified name is created where the
-- caller's own search_path puts it, as CREATE TABLE would.
CREATE FUNCTION stratum.create_base_table(rel_name text, columns text DEFAULT '')
    RETURNS regclass
    LANGUAGE plpgsql AS $$
DECLARE
    parts text[];
    qualified text;
    statement text;
    tags text[];
    rel regclass;
BEGIN
    IF rel_name IS NULL THEN
        RAISE EXCEPTION 'table name must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    parts := pg_catalog.parse_ident(rel_name);
    IF pg_catalog.array_length(parts, 1) > 2 THEN
        RAISE EXCEPTION 'table name % has too many dotted parts', pg_catalog.quote_literal(rel_name)
            USING ERRCODE = 'invalid_name';
    END IF;
    SELECT pg_catalog.string_agg(pg_catalog.quote_ident(part), '.') INTO qualified
      FROM pg_catalog.unnest(parts) AS part;
    statement := pg_catalog.format(
        'CREATE TABLE %s (id uuid NOT NULL DEFAULT gen_random_uuid() PRIMARY KEY, '
        'tenant_id uuid NOT NULL DEFAULT stratum.current_tenant()%s, '
        'created_at timestamptz NOT NULL DEFAULT now(), '
        'updated_at timestamptz NOT NULL DEFAULT now(), '
        'UNIQUE (tenant_id, id))',
        qualified,
        CASE WHEN coalesce(pg_catalog.btrim(columns), '') <> '' THEN ', ' || columns ELSE '' END);
    -- columns is spliced into DDL: it must not close the statement and start another.
    tags := stratum._statement_tags(statement);
    IF tags IS DISTINCT FROM ARRAY['CREATE TABLE'] THEN
        RAISE EXCEPTION 'columns must be column definitions only'
            USING ERRCODE = 'syntax_error',
                  DETAIL = pg_catalog.format('The definition parses as %s.',
                                             pg_catalog.array_to_string(tags, ', '));
    END IF;
    EXECUTE statement;
    rel := pg_catalog.to_regclass(qualified);
    PERFORM stratum.enable_tenancy(rel);
    PERFORM stratum.enable_timestamps(rel);
    PERFORM stratum.enable_audit(rel);
    RETURN rel;
END
$$;
COMMENT ON FUNCTION stratum.create_base_table(text, text) IS
    'Creates a tenant table: id uuid primary key, tenant_id, your columns, created_at, updated_at; with tenancy, timestamps and audit';
