-- Users of every tenant. create_base_table gives id, tenant_id, created_at,
-- updated_at, tenancy (row level security), timestamps and audit; the audit
-- is then told to leave the password hash out of the log.
SELECT stratum.create_base_table('users', $$
    email         text NOT NULL CONSTRAINT users_email_format CHECK (position('@' IN email) > 1),
    display_name  text NOT NULL,
    password_hash text,
    role          text NOT NULL DEFAULT 'member'
                  CONSTRAINT users_role_values CHECK (role IN ('owner', 'admin', 'member')),
    CONSTRAINT users_tenant_email_key UNIQUE (tenant_id, email)
$$);
SELECT stratum.enable_audit('users', exclude_columns => '{password_hash}');
COMMENT ON TABLE users IS 'People who sign in; one set per tenant';
