-- The database the GoogleTest suites copy (CREATE DATABASE ... TEMPLATE
-- stratum_template): the extension, its roles and two tenants with fixed ids.
CREATE EXTENSION stratum;
SELECT stratum.grant_migrator_role('stratum_owner');
GRANT CREATE ON SCHEMA public TO stratum_owner;
SELECT stratum.grant_app_role('stratum_app');
INSERT INTO stratum.tenants (id, slug, name) VALUES
    ('aaaaaaaa-0000-4000-8000-000000000001', 'acme', 'Acme Corp'),
    ('bbbbbbbb-0000-4000-8000-000000000002', 'globex', 'Globex Inc');
