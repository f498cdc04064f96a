-- stratum: depends 3
-- Demo users and their first activity. Seeds run as the migration role,
-- which row level security binds like every role (FORCE): each tenant's rows
-- are written after setting that tenant.
SELECT stratum.set_tenant(id) FROM stratum.tenants WHERE slug = 'acme';
INSERT INTO users (email, display_name, role) VALUES
    ('wile@acme.example', 'Wile E. Coyote', 'owner'),
    ('road.runner@acme.example', 'Road Runner', 'member')
ON CONFLICT (tenant_id, email) DO NOTHING;
INSERT INTO activity_logs (user_id, action) SELECT id, 'signed_up' FROM users;

SELECT stratum.set_tenant(id) FROM stratum.tenants WHERE slug = 'globex';
INSERT INTO users (email, display_name, role) VALUES
    ('hank@globex.example', 'Hank Scorpio', 'owner'),
    ('homer@globex.example', 'Homer Simpson', 'member')
ON CONFLICT (tenant_id, email) DO NOTHING;
INSERT INTO activity_logs (user_id, action) SELECT id, 'signed_up' FROM users;
