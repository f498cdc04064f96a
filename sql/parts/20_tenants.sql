-- The tenant registry and the timestamps helper it uses itself; and the few
-- facts about Citus that the other parts ask (sql/parts/75_citus.sql).

-- Citus is installed in this database.
CREATE FUNCTION stratum._citus_present() RETURNS boolean
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
    AS $$ SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') $$;

-- This node is a Citus worker: the DDL event triggers leave the shells and
-- shards Citus makes there to Citus, which brings each table's policies and
-- triggers along.
CREATE FUNCTION stratum._on_citus_worker() RETURNS boolean
    AS 'MODULE_PATHNAME', 'stratum_on_citus_worker'
    LANGUAGE C STABLE;

-- rel is a Citus table (distributed, reference or local in Citus's metadata).
CREATE FUNCTION stratum._is_distributed(rel regclass) RETURNS boolean
    AS 'MODULE_PATHNAME', 'stratum_is_distributed'
    LANGUAGE C STABLE STRICT;

-- This node holds a copy of stratum.tenant_registry (Citus workers read it).
CREATE FUNCTION stratum._citus_registry_here() RETURNS boolean
    AS 'MODULE_PATHNAME', 'stratum_citus_registry_here'
    LANGUAGE C STABLE;

-- rel is a shard (on this node) of a Citus table.
CREATE FUNCTION stratum._citus_shard(rel regclass) RETURNS boolean
    AS 'MODULE_PATHNAME', 'stratum_citus_shard'
    LANGUAGE C STABLE STRICT;

-- 'distributed', 'reference', 'local' (a Citus local table) or NULL.
CREATE FUNCTION stratum._citus_table_kind(rel regclass) RETURNS text
    AS 'MODULE_PATHNAME', 'stratum_citus_table_kind'
    LANGUAGE C STABLE STRICT;

-- Citus refuses triggers on distributed tables unless told
-- (citus.enable_unsafe_triggers); stratum's helpers tell it, for the rest of
-- the transaction, before they create theirs.
CREATE FUNCTION stratum._allow_citus_triggers() RETURNS void
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF stratum._citus_present() THEN
        PERFORM set_config('citus.enable_unsafe_triggers', 'on', true);
    END IF;
END
$$;

CREATE FUNCTION stratum.maintain_timestamps() RETURNS trigger
    AS 'MODULE_PATHNAME', 'stratum_maintain_timestamps'
    LANGUAGE C;
COMMENT ON FUNCTION stratum.maintain_timestamps() IS
    'BEFORE UPDATE row trigger: updated_at := now(), created_at kept';

-- Raises unless rel is an ordinary or partitioned table; returns its relkind.
CREATE FUNCTION stratum._assert_table(rel regclass) RETURNS "char"
    LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    kind "char";
BEGIN
    IF rel IS NULL THEN
        RAISE EXCEPTION 'table must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT relkind INTO kind FROM pg_class WHERE oid = rel;
    IF kind IS NULL OR kind NOT IN ('r', 'p') THEN
        RAISE EXCEPTION '% is not a table', rel USING ERRCODE = 'wrong_object_type';
    END IF;
    RETURN kind;
END
$$;

-- Ensures a column of the given type exists (adding it with the given default
-- and NOT NULL when missing); raises when it exists with another type.
CREATE FUNCTION stratum._ensure_column(rel regclass, col name, typ regtype, default_expr text)
    RETURNS boolean
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    existing regtype;
BEGIN
    SELECT atttypid INTO existing FROM pg_attribute
     WHERE attrelid = rel AND attname = col AND attnum > 0 AND NOT attisdropped;
    IF existing IS NULL THEN
        EXECUTE format('ALTER TABLE %s ADD COLUMN %I %s NOT NULL DEFAULT %s',
                       rel, col, typ, default_expr);
        RETURN true;
    END IF;
    IF existing <> typ THEN
        RAISE EXCEPTION 'column %.% has type %, expected %', rel, quote_ident(col), existing, typ
            USING ERRCODE = 'datatype_mismatch';
    END IF;
    RETURN false;
END
$$;

-- Drops a trigger stratum installed, quietly when it is not there.
CREATE FUNCTION stratum._drop_trigger(rel regclass, trigger_name name) RETURNS void
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = rel AND tgname = trigger_name
                                          AND NOT tgisinternal) THEN
        EXECUTE format('DROP TRIGGER %I ON %s', trigger_name, rel);
    END IF;
END
$$;

CREATE FUNCTION stratum.enable_timestamps(rel regclass) RETURNS void
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM stratum._assert_table(rel);
    PERFORM stratum._ensure_column(rel, 'created_at', 'timestamptz', 'now()');
    PERFORM stratum._ensure_column(rel, 'updated_at', 'timestamptz', 'now()');
    IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = rel AND tgname = 'stratum_timestamps'
                                              AND NOT tgisinternal) THEN
        PERFORM stratum._allow_citus_triggers();
        EXECUTE format('CREATE TRIGGER stratum_timestamps BEFORE UPDATE ON %s '
                       'FOR EACH ROW EXECUTE FUNCTION stratum.maintain_timestamps()', rel);
    END IF;
END
$$;
COMMENT ON FUNCTION stratum.enable_timestamps(regclass) IS
    'Adds created_at/updated_at timestamptz maintained by a C++ trigger; idempotent';

CREATE FUNCTION stratum.disable_timestamps(rel regclass) RETURNS void
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM stratum._assert_table(rel);
    PERFORM stratum._drop_trigger(rel, 'stratum_timestamps');
END
$$;
COMMENT ON FUNCTION stratum.disable_timestamps(regclass) IS
    'Drops the timestamps trigger; the columns and their data stay';

CREATE TABLE stratum.tenants (
    id          uuid        NOT NULL DEFAULT gen_random_uuid() PRIMARY KEY,
    slug        text        NOT NULL UNIQUE
                CONSTRAINT tenants_slug_format
                CHECK (slug ~ '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$'),
    name        text        NOT NULL CONSTRAINT tenants_name_length
                CHECK (length(name) BETWEEN 1 AND 200),
    status      text        NOT NULL DEFAULT 'active'
                CONSTRAINT tenants_status_values
                CHECK (status IN ('active', 'suspended', 'archived')),
    schema_name name        UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE stratum.tenants IS
    'Tenant registry: only active tenants can be set as the current tenant';
COMMENT ON COLUMN stratum.tenants.schema_name IS
    'The tenant''s own schema, when stratum.create_tenant_schema made one';
CREATE TRIGGER stratum_timestamps BEFORE UPDATE ON stratum.tenants
    FOR EACH ROW EXECUTE FUNCTION stratum.maintain_timestamps();
SELECT pg_catalog.pg_extension_config_dump('stratum.tenants', '');

-- A session confined to some tenants (stratum.allowed_tenants, see
-- stratum.allow_tenants) lists only those; everyone else sees the registry
-- whole. Not forced: the owner's functions (create_tenant, ...) and the C
-- lookup behind set_tenant read every row.
CREATE FUNCTION stratum._tenant_visible(tenant uuid) RETURNS boolean
    AS 'MODULE_PATHNAME', 'stratum_tenant_visible'
    LANGUAGE C STABLE LEAKPROOF PARALLEL SAFE;
ALTER TABLE stratum.tenants ENABLE ROW LEVEL SECURITY;
CREATE POLICY stratum_tenant_visibility ON stratum.tenants FOR SELECT
    USING (stratum._tenant_visible(id));

CREATE FUNCTION stratum.create_tenant(slug text, name text) RETURNS uuid
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    new_id uuid;
BEGIN
    IF slug IS NULL OR slug !~ '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$' THEN
        RAISE EXCEPTION 'invalid tenant slug %', coalesce(quote_literal(slug), 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'A slug is 1 to 63 lower-case letters, digits and inner hyphens.';
    END IF;
    IF name IS NULL OR length(name) NOT BETWEEN 1 AND 200 OR name ~ '[\x01-\x1f\x7f]' THEN
        RAISE EXCEPTION 'tenant name must be 1 to 200 characters%', CASE WHEN name ~ '[\x01-\x1f\x7f]'
            THEN ', without control characters' ELSE '' END USING ERRCODE = 'invalid_parameter_value';
    END IF;  -- a control character could forge a line in a listing or a log
    INSERT INTO stratum.tenants (slug, name) VALUES (create_tenant.slug, create_tenant.name)
        ON CONFLICT ON CONSTRAINT tenants_slug_key DO NOTHING
        RETURNING id INTO new_id;
    IF new_id IS NULL THEN
        RAISE EXCEPTION 'a tenant with slug % already exists', quote_literal(slug)
            USING ERRCODE = 'unique_violation';
    END IF;
    RETURN new_id;
END
$$;
COMMENT ON FUNCTION stratum.create_tenant(text, text) IS
    'Registers an active tenant and returns its id';

CREATE FUNCTION stratum._set_tenant_status(tenant uuid, new_status text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    UPDATE stratum.tenants SET status = new_status WHERE id = tenant;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'tenant % is not registered', tenant USING ERRCODE = 'undefined_object';
    END IF;
END
$$;

CREATE FUNCTION stratum.suspend_tenant(tenant uuid) RETURNS void
    LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$ SELECT stratum._set_tenant_status(tenant, 'suspended') $$;
COMMENT ON FUNCTION stratum.suspend_tenant(uuid) IS
    'Suspends a tenant: it can no longer be set (transactions already in it finish)';

CREATE FUNCTION stratum.activate_tenant(tenant uuid) RETURNS void
    LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$ SELECT stratum._set_tenant_status(tenant, 'active') $$;
COMMENT ON FUNCTION stratum.activate_tenant(uuid) IS 'Makes a suspended tenant active again';
