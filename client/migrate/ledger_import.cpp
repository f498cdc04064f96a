// Migrator::import_ledger: the migrations another tool applied, recorded in
// stratum's ledger without running them. The records are made by
// stratum.record_migration under the scope's session lock, all in one
// pipelined round trip, which is one implicit transaction: the import is
// complete or leaves nothing.
#include <algorithm>
#include <map>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "ledger_import_sources.hpp"
#include "migrator_plan.hpp"
#include "stratum/ledger_sql.hpp"

namespace stratum {

using namespace migrator;

std::string_view to_string(LedgerSource source) noexcept
{
    switch (source) {
    case LedgerSource::golang_migrate:
        return "golang-migrate";
    case LedgerSource::flyway:
        return "flyway";
    case LedgerSource::sqitch:
        break;
    }
    return "sqitch";
}

std::optional<LedgerSource> ledger_source_named(std::string_view name) noexcept
{
    for (LedgerSource source : {LedgerSource::golang_migrate, LedgerSource::flyway, LedgerSource::sqitch})
        if (to_string(source) == name)
            return source;
    return std::nullopt;
}

namespace {

// The files the source ledger says are applied, in version order; a problem
// for each applied entry without a file.
std::vector<const MigrationFile *> applied_files(const SourceLedger &ledger, const MigrationSet &set,
                                                 LedgerSource from, std::vector<std::string> &missing)
{
    std::vector<const MigrationFile *> files;
    if (from == LedgerSource::sqitch) {
        std::map<std::string, const MigrationFile *> by_name;
        for (const MigrationFile &file : set.files)
            by_name.emplace(file.name, &file);
        for (const std::string &change : ledger.changes) {
            auto it = by_name.find(change);
            if (it == by_name.end())
                missing.push_back("sqitch change " + change + " (expected a file NNN_" + change + ".up.sql)");
            else
                files.push_back(it->second);
        }
        std::sort(files.begin(), files.end(),
                  [](const MigrationFile *a, const MigrationFile *b) { return a->version < b->version; });
        files.erase(std::unique(files.begin(), files.end()), files.end());
        return files;
    }
    std::set<std::int64_t> versions = ledger.versions;
    if (ledger.up_to) {
        if (from == LedgerSource::golang_migrate && set.find(*ledger.up_to) == nullptr)
            missing.push_back("version " + std::to_string(*ledger.up_to) + ", golang-migrate's current one");
        for (const MigrationFile &file : set.files)
            if (file.version <= *ledger.up_to)
                versions.insert(file.version);
    }
    for (std::int64_t version : versions) {
        if (const MigrationFile *file = set.find(version))
            files.push_back(file);
        else if (from == LedgerSource::flyway)
            missing.push_back("version " + std::to_string(version));
    }
    return files;
}

std::string import_metadata(const RunTarget &target, const MigrationFile &file, LedgerSource from,
                            const std::string &table)
{
    nlohmann::json metadata = nlohmann::json::parse(metadata_of(target, file));
    metadata["imported_from"] = {{"tool", std::string(to_string(from))}, {"table", table}};
    return metadata.dump();
}

// Takes the scope's session lock, waiting (with backoff) while another
// migrator holds it.
void take_lock(Migrator::Impl &impl, Connection &conn, const RunTarget &target, const RunResult &result)
{
    RetryBudget budget(impl.options);
    while (!conn.exec(ledger_sql::try_lock, target.scope).value<bool>()) {
        auto delay = budget.next_delay(Transient::busy);
        if (!delay)
            raise_run_error(MigrationErrorReason::busy, target, "55P03",
                            "another migrator kept the migration lock of scope " + target.scope +
                                " longer than the wait limit; nothing was imported",
                            "See stratum.migration_waits() for who holds it.", result);
        std::this_thread::sleep_for(*delay);
    }
}

}  // namespace

RunResult Migrator::import_ledger(const ImportOptions &import)
{
    MigratorOptions options = impl_->options;
    options.scope = "master";
    LoadedRun run;
    load_run(options, MigrationKind::migration, "", run);
    const RunTarget &target = run.target;
    RunResult result;
    result.operation = "import";
    result.scope = target.scope;
    Session session(*impl_);
    Connection &conn = session.conn();
    auto started = SteadyClock::now();
    auto round_trips = conn.round_trips();

    SourceLedgerProblem problem;
    std::optional<SourceLedger> ledger = read_source_ledger(conn, import, problem);
    if (!ledger)
        raise_run_error(MigrationErrorReason::invalid, target, problem.sqlstate, problem.message,
                        problem.hint, result);
    result.warnings = ledger->warnings;
    std::vector<std::string> missing;
    std::vector<const MigrationFile *> files = applied_files(*ledger, run.set, import.from, missing);
    if (!missing.empty()) {
        std::string list;
        for (const auto &entry : missing)
            list += "\n  " + entry;
        raise_run_error(MigrationErrorReason::invalid, target, "22023",
                        std::string(to_string(import.from)) + "'s ledger " + ledger->table +
                            " lists applied migrations that have no file in " +
                            target.shown("master") + "; nothing was imported:" + list,
                        "Move (or translate) every applied migration into master/ first; see "
                        "docs/migrations.md, moving to stratum.",
                        result);
    }
    std::set<std::int64_t> imported;
    for (const MigrationFile *file : files)
        imported.insert(file->version);
    if (!imported.empty())
        for (const MigrationFile &file : run.set.files)
            if (file.version < *imported.rbegin() && !imported.count(file.version))
                result.warnings.push_back(target.label(file.version, file.name) +
                                          " is older than the newest imported migration but not "
                                          "applied by " + std::string(to_string(import.from)) +
                                          ": up will refuse it unless --allow-out-of-order");

    if (!files.empty()) {
        take_lock(*impl_, conn, target, result);
        std::vector<Step> steps;
        std::deque<Params> params;
        for (const MigrationFile *file : files) {
            Step &step = steps.emplace_back(apply_step(target, options, *file, false));
            Params &p = params.emplace_back();
            add_migration_params(p, target, step);
            p.add_text("0 seconds").add(false).add_text(import_metadata(target, *file, import.from, ledger->table));
            conn.send(ledger_sql::record_migration, p);
        }
        conn.send(ledger_sql::release_lock, Params(target.scope));
        std::vector<Result> recorded;
        if (std::optional<Error> error = server_error([&] { recorded = conn.sync(); })) {
            session.discard();  // the session lock and the failed pipeline go with it
            ErrorFields fields = error->fields();
            fields.message = "import from " + std::string(to_string(import.from)) +
                             " failed, nothing was imported: " + fields.message;
            throw MigrationError(reason_of(fields.sqlstate), std::move(fields),
                                 MigrationFailure{.scope = target.scope, .phase = "import"}, result);
        }
        for (std::size_t i = 0; i < steps.size(); i++) {
            const std::string action = recorded[i].value<std::string>();
            result.migrations.push_back(outcome_of(target, steps[i], action == "applied" ? "imported" : action,
                                                   microseconds(0), 1));
        }
    }
    result.duration = std::chrono::duration_cast<microseconds>(SteadyClock::now() - started);
    result.round_trips = conn.round_trips() - round_trips;
    return result;
}

}  // namespace stratum
