// The migration probes: the master scope's ledger alone, or planned against
// the migration files (stratum.migration_plan), each with verify_ledger, in
// one round trip.
#include <algorithm>

#include "stratum/connection.hpp"
#include "stratum/health.hpp"

namespace stratum {

namespace {

constexpr std::string_view verify_sql =
    "SELECT scope || '/' || version || ' (' || kind || "
    "CASE WHEN environment <> '' THEN ' ' || environment ELSE '' END || '): ' || problem || "
    "coalesce(': ' || detail, '') FROM stratum.verify_ledger() ORDER BY scope, kind, version";

void add_problems(MigrationFacts &facts, const Result &rows)
{
    for (const Row &row : rows)
        facts.problems.push_back(row[0].as<std::string>());
}

}  // namespace

MigrationFacts probe_migration_ledger(Connection &connection)
{
    const Params none;
    connection.send("SELECT max(version) FILTER (WHERE status = 'applied'), "
                    "count(*) FILTER (WHERE status = 'applied') "
                    "FROM stratum.migration_status('master') WHERE kind = 'migration'",
                    none);
    connection.send(verify_sql, none);
    std::vector<Result> results = connection.sync();
    MigrationFacts facts;
    facts.source = "ledger";
    const Row summary = results.at(0).one_row();
    facts.version = summary[0].as<std::optional<std::int64_t>>();
    facts.applied = summary[1].as<std::int64_t>();
    add_problems(facts, results.at(1));
    return facts;
}

MigrationFacts probe_migration_plan(Connection &connection,
                                    const std::vector<std::int64_t> &versions,
                                    const std::vector<std::string> &checksums)
{
    const Params plan_params(versions, checksums);
    const Params none;
    connection.send(
        "SELECT state, count(*), max(version) "
        "FROM stratum.migration_plan('master', $1::bigint[], $2::text[]) GROUP BY state",
        plan_params);
    connection.send(verify_sql, none);
    std::vector<Result> results = connection.sync();
    MigrationFacts facts;
    facts.source = "files";
    facts.pending = 0;
    for (const Row &row : results.at(0)) {
        const auto state = row[0].as<std::string>();
        const auto count = row[1].as<std::int64_t>();
        const auto highest = row[2].as<std::int64_t>();
        // Every state but pending and out_of_order is a version the ledger has applied.
        if (state == "pending") {
            facts.pending = count;
            continue;
        }
        if (state == "out_of_order") {
            facts.out_of_order = count;
            continue;
        }
        if (state == "drifted")
            facts.drifted = count;
        else if (state == "missing")
            facts.missing = count;
        else if (state == "unknown")
            facts.unknown = count;
        facts.applied += count;
        facts.version = std::max(facts.version.value_or(highest), highest);
    }
    add_problems(facts, results.at(1));
    return facts;
}

// WIRING POINT (migration runner, branch `runner`): once stratum::Migrator and
// load_migration_set() are on main, read config.migrations.dir/master here
// and plan against the files with probe_migration_plan.
MigrationProbe default_migration_probe(const Config &)
{
    return probe_migration_ledger;
}

}  // namespace stratum
