-- stratum: depends 1
-- What users did, in time order: append-only and read newest first per
-- tenant, hence the (tenant_id, occurred_at) index. A user's deletion keeps
-- the log and forgets who it was.
CREATE TABLE activity_logs (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id   uuid NOT NULL DEFAULT stratum.current_tenant(),
    user_id     uuid,
    occurred_at timestamptz NOT NULL DEFAULT now(),
    action      text NOT NULL,
    details     jsonb NOT NULL DEFAULT '{}',
    CONSTRAINT activity_logs_user_fkey FOREIGN KEY (tenant_id, user_id)
        REFERENCES users (tenant_id, id) ON DELETE SET NULL (user_id)
);
CREATE INDEX activity_logs_tenant_occurred_at ON activity_logs (tenant_id, occurred_at DESC);
SELECT stratum.enable_tenancy('activity_logs');
COMMENT ON TABLE activity_logs IS 'Append-only log of what users did, per tenant';
