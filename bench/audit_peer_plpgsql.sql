-- The peer stratum's audit trigger is measured against: the usual PL/pgSQL
-- AFTER ROW trigger (to_jsonb of OLD and NEW, changed columns, one INSERT
-- per row) writing a log table with the same columns and the same indexes
-- as stratum.audit_log. Used by bench/audit.sh; run as the tables' owner.

DROP TABLE IF EXISTS bench_peer_log;
DROP SEQUENCE IF EXISTS bench_peer_log_id_seq;
CREATE SEQUENCE bench_peer_log_id_seq CACHE 100;
CREATE TABLE bench_peer_log (LIKE stratum.audit_log);
ALTER TABLE bench_peer_log ALTER COLUMN id SET DEFAULT nextval('bench_peer_log_id_seq');
CREATE INDEX ON bench_peer_log USING hash (row_key);
CREATE INDEX ON bench_peer_log USING brin (tenant_id uuid_bloom_ops, logged_at)
    WITH (pages_per_range = 16);

CREATE OR REPLACE FUNCTION bench_peer_audit() RETURNS trigger
    LANGUAGE plpgsql AS $$
DECLARE
    old_row jsonb;
    new_row jsonb;
    changed text[];
BEGIN
    IF TG_OP <> 'INSERT' THEN
        old_row := to_jsonb(OLD);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        new_row := to_jsonb(NEW);
    END IF;
    IF TG_OP = 'UPDATE' THEN
        SELECT array_agg(n.key) INTO changed
          FROM jsonb_each(new_row) n WHERE old_row -> n.key IS DISTINCT FROM n.value;
        IF changed IS NULL THEN
            RETURN NULL;
        END IF;
    END IF;
    INSERT INTO bench_peer_log (logged_at, xact_id, tenant_id, actor, db_user, table_oid,
                                table_schema, table_name, operation, row_key, old_row, new_row,
                                changed_columns)
    VALUES (statement_timestamp(), pg_current_xact_id(),
            coalesce((coalesce(new_row, old_row) ->> 'tenant_id')::uuid, stratum.current_tenant_or_null()),
            stratum.current_actor(), current_user, TG_RELID, TG_TABLE_SCHEMA, TG_TABLE_NAME, TG_OP,
            jsonb_build_object('id', coalesce(new_row, old_row) -> 'id'), old_row, new_row, changed);
    RETURN NULL;
END
$$;
