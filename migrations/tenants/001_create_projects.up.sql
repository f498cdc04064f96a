-- A tenant's projects, in the tenant's own schema (unqualified names land
-- there: the ledger puts the tenant schema first on the search_path).
CREATE TABLE projects (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       text NOT NULL CONSTRAINT projects_name_key UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
SELECT stratum.enable_timestamps('projects');
