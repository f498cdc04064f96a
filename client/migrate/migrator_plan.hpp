// Planning a run: which files to read for a scope, the plan against the
// ledger in one round trip, and what up, down and redo will do (refusing
// drift, out-of-order files and unmet dependencies before anything runs).
#pragma once

#include <optional>

#include "migrator_internal.hpp"

namespace stratum::migrator {

// The files and hooks of one run, and its target (which points into them:
// not copyable or movable).
struct LoadedRun {
    MigrationSet set;
    MigrationHooks hooks;
    RunTarget target;

    LoadedRun() = default;
    LoadedRun(const LoadedRun &) = delete;
    LoadedRun &operator=(const LoadedRun &) = delete;
};

// Reads the files of options.scope (master/ or tenants/) or of a seed
// environment, and the hooks. With `tolerate_bad_files` (rollbacks, which
// need only the ledger) unusable files are a warning instead of an error.
void load_run(const MigratorOptions &options, MigrationKind kind, const std::string &environment,
              LoadedRun &run, std::vector<std::string> *warnings = nullptr);

// The directory the files of a scope (or seed environment) live in.
std::filesystem::path files_dir(const MigratorOptions &options, MigrationKind kind,
                                const std::string &environment);

// The steps `up` (or seed) runs, after one round trip to stratum.migration_plan.
std::vector<Step> plan_up(const MigratorOptions &options, Session &session, LoadedRun &run,
                          std::optional<std::int64_t> to, RunResult &result);

// An applied migration as the ledger keeps it (for down and redo).
struct AppliedMigration {
    std::int64_t version;
    std::string name;
    bool transactional;
    bool reversible;
    std::optional<milliseconds> lock_timeout;       // declared in its header
    std::optional<milliseconds> statement_timeout;  // declared in its header
};

// Applied migrations of the run's scope, newest first.
std::vector<AppliedMigration> applied_migrations(Session &session, const RunTarget &target);

// Refuses (before anything runs) to roll back migrations that applied
// migrations or seeds outside `steps` depend on.
void check_dependents(Session &session, const RunTarget &target, std::span<const Step> steps,
                      const RunResult &result);

// The rollback step of an applied migration.
Step rollback_step(const MigratorOptions &options, const LoadedRun &run,
                   const AppliedMigration &applied);

// Dry run: asks the server what each step would do (check_migration /
// check_rollback, pipelined) and records that as the outcome.
void check_steps(Runner &runner, std::span<const Step> steps);

}  // namespace stratum::migrator
