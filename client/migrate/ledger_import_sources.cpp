// The three foreign ledgers of ledger_import_sources.hpp, read with one query
// each after the table is looked up (its name comes back from the server
// quoted, so it can be spliced into the query).
#include "ledger_import_sources.hpp"

#include <charconv>

namespace stratum::migrator {
namespace {

std::string default_table(LedgerSource source)
{
    switch (source) {
    case LedgerSource::golang_migrate:
        return "public.schema_migrations";
    case LedgerSource::flyway:
        return "public.flyway_schema_history";
    case LedgerSource::sqitch:
        break;
    }
    return "sqitch.changes";
}

std::optional<std::int64_t> whole_number(const std::string &text)
{
    std::int64_t value = -1;
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error != std::errc() || end != text.data() + text.size() || value < 0)
        return std::nullopt;
    return value;
}

std::optional<SourceLedger> golang_migrate(Connection &conn, SourceLedger ledger, SourceLedgerProblem &problem)
{
    Result rows = conn.exec("SELECT version::bigint, dirty FROM " + ledger.table + " ORDER BY version DESC");
    if (rows.size() > 1) {
        problem = {"55000", "golang-migrate's ledger " + ledger.table + " has " +
                                std::to_string(rows.size()) + " rows; golang-migrate keeps one (the current version)",
                   "Is it golang-migrate's table? Name it with --table."};
        return std::nullopt;
    }
    if (rows.empty())
        return ledger;  // nothing applied yet
    const std::int64_t version = rows[0][0].as<std::int64_t>();
    if (rows[0][1].as<bool>()) {
        problem = {"55000",
                   "golang-migrate's ledger " + ledger.table + " is dirty at version " +
                       std::to_string(version) +
                       ": that migration failed partway and some of its changes may be in the "
                       "database; nothing was imported",
                   "Finish or undo migration " + std::to_string(version) +
                       " by hand, mark the ledger clean with golang-migrate (migrate force " +
                       std::to_string(version) + " if it is complete, or the version before it), "
                       "then import again."};
        return std::nullopt;
    }
    ledger.up_to = version;
    return ledger;
}

std::optional<SourceLedger> flyway(Connection &conn, SourceLedger ledger, SourceLedgerProblem &problem)
{
    Result rows = conn.exec("SELECT installed_rank, coalesce(version, ''), type, script, success FROM " +
                            ledger.table + " ORDER BY installed_rank");
    for (const Row &row : rows) {
        const auto version_text = row[1].as<std::string>();
        const auto type = row[2].as<std::string>();
        const auto script = row[3].as<std::string>();
        if (!row[4].as<bool>()) {
            problem = {"55000",
                       "Flyway's ledger " + ledger.table + " records a failed migration (version " +
                           version_text + ", " + script +
                           "): some of its changes may be in the database; nothing was imported",
                       "Finish or undo it by hand, run flyway repair (which removes the failed "
                       "entry), then import again."};
            return std::nullopt;
        }
        if (type == "SCHEMA")
            continue;  // Flyway's note that it created the schemas: not a migration
        if (version_text.empty()) {
            ledger.warnings.push_back("Flyway repeatable migration " + script +
                                      " is not imported: stratum has no repeatable migrations");
            continue;
        }
        std::optional<std::int64_t> version = whole_number(version_text);
        if (!version) {
            problem = {"22023",
                       "Flyway version " + version_text + " (" + script +
                           ") is not a whole number; stratum versions are bigint; nothing was imported",
                       "Renumber the files (e.g. 1.1 -> 11 with every version scaled alike) and "
                       "the ledger the same way, or import from a ledger with whole versions."};
            return std::nullopt;
        }
        if (type == "BASELINE")
            ledger.up_to = std::max(ledger.up_to.value_or(*version), *version);
        else if (type.starts_with("UNDO") || type == "DELETE")
            ledger.versions.erase(*version);
        else
            ledger.versions.insert(*version);
    }
    return ledger;
}

SourceLedger sqitch(Connection &conn, SourceLedger ledger, const std::string &project)
{
    Result rows = conn.exec("SELECT change FROM " + ledger.table +
                                " WHERE $1 = '' OR project = $1 ORDER BY committed_at, change_id",
                            project);
    for (const Row &row : rows)
        ledger.changes.push_back(row[0].as<std::string>());
    return ledger;
}

}  // namespace

std::optional<SourceLedger> read_source_ledger(Connection &conn, const ImportOptions &options,
                                               SourceLedgerProblem &problem)
{
    const std::string wanted = options.table.empty() ? default_table(options.from) : options.table;
    auto table = conn.exec("SELECT to_regclass($1)::text", wanted).value<std::optional<std::string>>();
    if (!table) {
        problem = {"42P01",
                   std::string(stratum::to_string(options.from)) + "'s ledger " + wanted +
                       " does not exist in this database; nothing was imported",
                   "Name the table with --table (schema-qualified), or check --database."};
        return std::nullopt;
    }
    SourceLedger ledger;
    ledger.table = *table;
    switch (options.from) {
    case LedgerSource::golang_migrate:
        return golang_migrate(conn, std::move(ledger), problem);
    case LedgerSource::flyway:
        return flyway(conn, std::move(ledger), problem);
    case LedgerSource::sqitch:
        break;
    }
    return sqitch(conn, std::move(ledger), options.project);
}

}  // namespace stratum::migrator
