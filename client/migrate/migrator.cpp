// stratum::Migrator: the operations that change the schema (up, down, redo,
// seed), each on a connection of its own: load, plan, run.
#include "stratum/migrator.hpp"

#include "migrator_plan.hpp"

namespace stratum {

using namespace migrator;

Migrator::Migrator(std::string conninfo, MigratorOptions options) : impl_(std::make_unique<Impl>())
{
    impl_->conninfo = std::move(conninfo);
    impl_->options = std::move(options);
}

Migrator::Migrator(Pool &pool, MigratorOptions options) : impl_(std::make_unique<Impl>())
{
    impl_->pool = &pool;
    impl_->options = std::move(options);
}

Migrator::~Migrator() = default;
Migrator::Migrator(Migrator &&) noexcept = default;
Migrator &Migrator::operator=(Migrator &&) noexcept = default;

const MigratorOptions &Migrator::options() const noexcept
{
    return impl_->options;
}

MigratorOptions &Migrator::options() noexcept
{
    return impl_->options;
}

namespace {

RunResult new_result(const RunTarget &target, std::string operation, bool dry_run)
{
    RunResult result;
    result.operation = std::move(operation);
    result.scope = target.scope;
    result.kind = target.kind_name();
    result.environment = target.environment;
    result.dry_run = dry_run;
    return result;
}

void validate(const MigratorOptions &options)
{
    if (options.scope.empty())
        throw ValidationError("scope", "must be \"master\" or a tenant schema");
    if (options.lock_timeout.count() < 0 || options.statement_timeout.count() < 0)
        throw ValidationError("lock_timeout", "timeouts must not be negative");
    if (options.max_attempts < 1)
        throw ValidationError("max_attempts", "must be at least 1");
    if (options.jobs < 1 || options.jobs > 256)
        throw ValidationError("jobs", "must be between 1 and 256");
}

// Runs the steps (or checks them, dry run) with the run hooks around them.
void execute(Migrator::Impl &impl, Session &session, LoadedRun &run, RunResult &result,
             std::span<const Step> steps)
{
    Runner runner(impl, session, run.target, result);
    if (impl.options.dry_run) {
        check_steps(runner, steps);
        return;
    }
    if (steps.empty())
        return;
    runner.prepare_hooks();
    runner.run_hook(run.hooks.before_all);
    runner.run(steps);
    runner.run_hook(run.hooks.after_all);
}

template <class F>
RunResult timed(Session &session, RunResult result, F &&body)
{
    auto started = SteadyClock::now();
    auto round_trips = session->round_trips();
    body(result);
    result.duration = std::chrono::duration_cast<microseconds>(SteadyClock::now() - started);
    result.round_trips = session->round_trips() - round_trips + session.extra_round_trips;
    return result;
}

RunResult apply_files(Migrator::Impl &impl, MigrationKind kind, const std::string &environment,
                      std::optional<std::int64_t> to, const char *operation)
{
    const MigratorOptions &options = impl.options;
    validate(options);
    LoadedRun run;
    load_run(options, kind, environment, run);
    if (kind == MigrationKind::seed && run.set.directory.empty())
        raise_run_error(MigrationErrorReason::invalid, run.target, "22023",
                        "no seeds for environment " + environment + ": " +
                            files_dir(options, kind, environment).generic_string() +
                            " does not exist",
                        "", new_result(run.target, operation, options.dry_run));
    Session session(impl);
    return timed(session, new_result(run.target, operation, options.dry_run), [&](RunResult &result) {
        std::vector<Step> steps = plan_up(options, session, run, to, result);
        execute(impl, session, run, result, steps);
    });
}

RunResult roll_back(Migrator::Impl &impl, std::optional<int> steps_wanted,
                    std::optional<std::int64_t> to_version)
{
    const MigratorOptions &options = impl.options;
    validate(options);
    LoadedRun run;
    RunResult result = new_result(run.target, "down", options.dry_run);
    // Rollbacks run the down SQL stored in the ledger: broken or deleted
    // files do not stop them (they only name things in messages).
    load_run(options, MigrationKind::migration, "", run, &result.warnings);
    result.scope = run.target.scope;
    Session session(impl);
    return timed(session, std::move(result), [&](RunResult &result) {
        std::vector<AppliedMigration> applied = applied_migrations(session, run.target);
        std::vector<Step> steps;
        std::vector<std::string> irreversible;
        for (const AppliedMigration &m : applied) {
            if (steps_wanted && static_cast<int>(steps.size()) >= *steps_wanted)
                break;
            if (to_version && m.version <= *to_version)
                break;
            if (!m.reversible)
                irreversible.push_back(run.target.label(m.version, m.name));
            steps.push_back(rollback_step(options, run, m));
        }
        if (!irreversible.empty()) {
            std::string list;
            for (const auto &label : irreversible)
                list += "\n  " + label;
            raise_run_error(MigrationErrorReason::irreversible, run.target, "SM005",
                            "cannot roll back: no down SQL (irreversible); nothing was rolled back:" + list,
                            "Write a new migration that undoes them instead.", result);
        }
        check_dependents(session, run.target, steps, result);
        execute(impl, session, run, result, steps);
    });
}

}  // namespace

RunResult Migrator::up(std::optional<std::int64_t> to)
{
    return apply_files(*impl_, MigrationKind::migration, "", to, "up");
}

RunResult Migrator::seed(std::optional<std::string> environment)
{
    return apply_files(*impl_, MigrationKind::seed, environment.value_or(impl_->options.environment),
                       std::nullopt, "seed");
}

RunResult Migrator::down(int steps)
{
    if (steps < 1)
        throw ValidationError("steps", "must be at least 1");
    return roll_back(*impl_, steps, std::nullopt);
}

RunResult Migrator::down_to(std::int64_t version)
{
    if (version < 0)
        throw ValidationError("version", "must not be negative");
    return roll_back(*impl_, std::nullopt, version);
}

RunResult Migrator::redo()
{
    const MigratorOptions &options = impl_->options;
    validate(options);
    LoadedRun run;
    load_run(options, MigrationKind::migration, "", run);
    Session session(*impl_);
    return timed(session, new_result(run.target, "redo", options.dry_run), [&](RunResult &result) {
        std::vector<AppliedMigration> applied = applied_migrations(session, run.target);
        if (applied.empty())
            raise_run_error(MigrationErrorReason::invalid, run.target, "22023",
                            "nothing to redo: no migration of scope " + run.target.scope +
                                " is applied",
                            "", result);
        const AppliedMigration &newest = applied.front();
        const MigrationFile *file = run.set.find(newest.version);
        std::string label = run.target.label(newest.version, newest.name);
        if (file == nullptr)
            raise_run_error(MigrationErrorReason::invalid, run.target, "22023",
                            "cannot redo " + label + ": its file is gone",
                            "Redo applies the file again after rolling back; use down to roll "
                            "back alone.",
                            result, newest.version, newest.name);
        if (!newest.reversible)
            raise_run_error(MigrationErrorReason::irreversible, run.target, "SM005",
                            "cannot redo " + label + ": it has no down SQL (irreversible)", "",
                            result, newest.version, newest.name, run.target.shown(file->file));
        Step step = apply_step(run.target, options, *file, false);
        step.action = Step::Action::redo;
        step.transactional = newest.transactional && file->header.transactional;
        std::vector<Step> steps{step};
        check_dependents(session, run.target, steps, result);
        execute(*impl_, session, run, result, steps);
    });
}

}  // namespace stratum
