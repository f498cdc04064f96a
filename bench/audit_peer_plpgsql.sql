-- The peer stratum's audit trigger is measured against: the PL/pgSQL audit
-- trigger most services write first — AFTER ROW, to_jsonb(OLD) and
-- to_jsonb(NEW), one INSERT per row into a log whose only index is its
-- primary key. Used by bench/audit.sh; run as the tables' owner.

DROP TABLE IF EXISTS bench_peer_log;
CREATE TABLE bench_peer_log (
    id         bigserial PRIMARY KEY,
    logged_at  timestamptz NOT NULL DEFAULT statement_timestamp(),
    tenant_id  uuid,
    actor      text,
    db_user    text NOT NULL DEFAULT current_user,
    table_name text NOT NULL,
    operation  text NOT NULL,
    old_row    jsonb,
    new_row    jsonb
);

CREATE OR REPLACE FUNCTION bench_peer_audit() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO bench_peer_log (tenant_id, actor, table_name, operation, old_row, new_row)
    VALUES (stratum.current_tenant_or_null(), stratum.current_actor(), TG_TABLE_NAME, TG_OP,
            CASE WHEN TG_OP <> 'INSERT' THEN to_jsonb(OLD) END,
            CASE WHEN TG_OP <> 'DELETE' THEN to_jsonb(NEW) END);
    RETURN NULL;
END
$$;
