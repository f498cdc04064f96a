// The migration probes: the master scope's ledger alone, or planned against
// the migration files (stratum.migration_plan), each with verify_ledger, in
// one round trip, with the INVALID indexes of the database; and which one a
// configuration gets.
#include <algorithm>
#include <filesystem>
#include <stdexcept>

#include "stratum/connection.hpp"
#include "stratum/health.hpp"
#include "stratum/invalid_index_sql.hpp"
#include "stratum/ledger_sql.hpp"
#include "stratum/migration_files.hpp"

namespace stratum {

namespace {

void add_problems(MigrationFacts &facts, const Result &rows)
{
    for (const Row &row : rows)
        facts.problems.push_back(row[0].as<std::string>());
}

void add_invalid_indexes(MigrationFacts &facts, const Result &rows)
{
    for (const Row &row : rows)
        facts.invalid_indexes.push_back(row[0].as<std::string>());
}

}  // namespace

MigrationFacts probe_migration_ledger(Connection &connection)
{
    const Params none;
    connection.send(ledger_sql::master_summary, none);
    connection.send(ledger_sql::verify_ledger_lines, none);
    connection.send(invalid_index_sql::all_lines, none);
    std::vector<Result> results = connection.sync();
    MigrationFacts facts;
    facts.source = "ledger";
    const Row summary = results.at(0).one_row();
    facts.version = summary[0].as<std::optional<std::int64_t>>();
    facts.applied = summary[1].as<std::int64_t>();
    add_problems(facts, results.at(1));
    add_invalid_indexes(facts, results.at(2));
    return facts;
}

MigrationFacts probe_migration_plan(Connection &connection,
                                    const std::vector<std::int64_t> &versions,
                                    const std::vector<std::string> &checksums)
{
    const Params plan_params(versions, checksums);
    const Params none;
    connection.send(ledger_sql::master_plan_by_state, plan_params);
    connection.send(ledger_sql::verify_ledger_lines, none);
    connection.send(invalid_index_sql::all_lines, none);
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
    add_invalid_indexes(facts, results.at(2));
    return facts;
}

// With a migrations directory (config.migrations.dir/master), the ledger is
// planned against its files, read again each round (a deploy changes them);
// without one, the ledger alone.
MigrationProbe default_migration_probe(const Config &config)
{
    const std::filesystem::path dir = config.migrations.dir;
    return [dir](Connection &connection) {
        std::error_code ignored;
        if (!std::filesystem::is_directory(dir / "master", ignored))
            return probe_migration_ledger(connection);
        MigrationSet files;
        try {
            files = load_migration_set(dir / "master", MigrationKind::migration, dir);
        } catch (const MigrationFileError &error) {
            // Not a database error: the checker reports it as it is.
            throw std::runtime_error(std::string("unusable migration files: ") + error.what());
        }
        return probe_migration_plan(connection, files.versions(), files.checksums());
    };
}

}  // namespace stratum
