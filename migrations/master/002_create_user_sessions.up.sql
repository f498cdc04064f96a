-- stratum: depends 1
-- Sign-in sessions. The foreign key on (tenant_id, user_id) keeps a session
-- and its user in the same tenant: a session can never point at another
-- tenant's user, whatever the application does.
SELECT stratum.create_base_table('user_sessions', $$
    user_id      uuid NOT NULL,
    token_hash   text NOT NULL,
    expires_at   timestamptz NOT NULL,
    last_seen_at timestamptz,
    CONSTRAINT user_sessions_user_fkey FOREIGN KEY (tenant_id, user_id)
        REFERENCES users (tenant_id, id) ON DELETE CASCADE,
    CONSTRAINT user_sessions_token_hash_key UNIQUE (tenant_id, token_hash)
$$);
SELECT stratum.enable_audit('user_sessions', exclude_columns => '{token_hash}');
CREATE INDEX user_sessions_tenant_user ON user_sessions (tenant_id, user_id);
