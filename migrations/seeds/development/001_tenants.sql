-- Two demo tenants, each with a schema of its own (stratum tenant migrate
-- then brings the schemas up to date).
SELECT stratum.create_tenant(v.slug, v.name)
  FROM (VALUES ('acme', 'Acme Corp'), ('globex', 'Globex Inc')) AS v (slug, name)
 WHERE NOT EXISTS (SELECT 1 FROM stratum.tenants t WHERE t.slug = v.slug);
SELECT stratum.create_tenant_schema(id) FROM stratum.tenants WHERE slug IN ('acme', 'globex');
