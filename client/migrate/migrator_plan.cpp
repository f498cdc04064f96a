// Planning: files of a scope, one round trip to compare them with the ledger,
// and the refusals (drift, out of order, unmet dependencies) made before
// anything runs.
#include "migrator_plan.hpp"

#include <deque>
#include <set>

#include "stratum/ledger_sql.hpp"

namespace stratum::migrator {
namespace {

std::string join(const std::vector<std::string> &lines)
{
    std::string text;
    for (const auto &line : lines)
        text += "\n  " + line;
    return text;
}

}  // namespace

std::filesystem::path files_dir(const MigratorOptions &options, MigrationKind kind,
                                const std::string &environment)
{
    if (kind == MigrationKind::seed)
        return options.dir / "seeds" / environment;
    return options.dir / (options.scope == "master" ? "master" : "tenants");
}

void load_run(const MigratorOptions &options, MigrationKind kind, const std::string &environment,
              LoadedRun &run, std::vector<std::string> *warnings)
{
    run.target.scope = options.scope;
    run.target.kind = kind;
    run.target.environment = kind == MigrationKind::seed ? environment : "";
    run.target.dir = options.dir;
    try {
        run.set = load_migration_set(files_dir(options, kind, environment), kind, options.dir,
                                     run.target.environment);
    } catch (const MigrationFileError &error) {
        if (warnings == nullptr)
            throw;
        warnings->push_back(std::string("migration files not used: ") + error.what());
        run.set = MigrationSet{};
    }
    run.hooks = load_hooks(options.hooks_dir.empty() ? options.dir / "hooks" : options.hooks_dir,
                           options.dir);
    run.target.hooks = &run.hooks;
}

std::vector<Step> plan_up(const MigratorOptions &options, Session &session, LoadedRun &run,
                          std::optional<std::int64_t> to, RunResult &result)
{
    RunTarget &target = run.target;
    const MigrationSet &set = run.set;
    Connection &conn = session.conn();
    Params plan(target.scope, array_text(set.versions()), array_text(set.checksums()),
                target.kind_name());
    if (target.kind == MigrationKind::seed)
        plan.add_text(target.environment);
    else
        plan.add_null();
    conn.send(ledger_sql::plan, plan);
    Params scope(target.scope);
    if (target.kind == MigrationKind::seed)
        conn.send(ledger_sql::applied_versions, scope);
    std::vector<Result> results = conn.sync();

    std::set<std::int64_t> applied;  // versions its dependencies may name
    std::vector<std::string> drifted, out_of_order;
    std::set<std::int64_t> pending, repair;
    for (const Row &row : results[0]) {
        auto version = row[0].as<std::int64_t>();
        auto state = row[1].as<std::string>();
        std::string name = row[2].as<std::string>();
        const MigrationFile *file = set.find(version);
        std::string label = target.label(version, file ? file->name : name);
        if (state == "applied" || state == "drifted" || state == "missing" || state == "unknown")
            applied.insert(version);
        if (state == "pending") {
            pending.insert(version);
        } else if (state == "drifted") {
            if (options.repair)
                repair.insert(version);
            else
                drifted.push_back(label + " [" + target.shown(file->file) + "]: ledger checksum " +
                                  row[4].as<std::string>() + ", file " + row[3].as<std::string>());
        } else if (state == "out_of_order") {
            if (options.allow_out_of_order) {
                pending.insert(version);
                result.warnings.push_back(label + " is older than the newest applied migration; "
                                                  "applied out of order as asked");
            } else {
                out_of_order.push_back(label + " [" + target.shown(file->file) + "]");
            }
        } else if (state == "missing") {
            result.warnings.push_back(label + " is applied but its file is gone");
        } else if (state == "unknown") {
            result.warnings.push_back(label + " is applied but newer than every file (applied "
                                              "by a newer release?)");
        }
    }
    if (!drifted.empty())
        raise_run_error(MigrationErrorReason::drift, target, "SM001",
                        std::to_string(drifted.size()) +
                            (drifted.size() == 1 ? " applied migration has" : " applied migrations have") +
                            " changed since it was applied; nothing was run:" + join(drifted),
                        "Restore the files as they were applied, or run with --repair to record "
                        "them as they are now (without running them).",
                        result, -1, "", "");
    if (!out_of_order.empty())
        raise_run_error(MigrationErrorReason::out_of_order, target, "55000",
                        std::to_string(out_of_order.size()) +
                            " unapplied migrations are older than the newest applied one; "
                            "nothing was run:" + join(out_of_order),
                        "Renumber them after the newest applied version, or run with "
                        "--allow-out-of-order to apply them anyway.",
                        result);

    if (target.kind == MigrationKind::seed) {
        applied.clear();
        for (auto version : results[1].value<std::vector<std::int64_t>>())
            applied.insert(version);
    }
    std::vector<Step> steps;
    std::vector<std::string> unmet;
    std::set<std::int64_t> earlier;
    for (const MigrationFile &file : set.files) {
        bool is_repair = repair.count(file.version) > 0;
        if (!pending.count(file.version) && !is_repair)
            continue;
        if (to && file.version > *to)
            break;
        for (std::int64_t dependency : file.header.depends_on) {
            bool met = applied.count(dependency) > 0 ||
                       (target.kind == MigrationKind::migration && earlier.count(dependency) > 0);
            if (!met)
                unmet.push_back(target.label(file.version, file.name) + " depends on " +
                                std::to_string(dependency) +
                                (target.kind == MigrationKind::seed
                                     ? ", a migration of scope " + target.scope + " not applied"
                                     : ", which is neither applied nor applied before it in this run"));
        }
        earlier.insert(file.version);
        if (file.empty && !is_repair)
            result.warnings.push_back(target.label(file.version, file.name) + " [" +
                                      target.shown(file.file) +
                                      "] has no SQL statement: recorded as applied, nothing to run");
        steps.push_back(apply_step(target, options, file, is_repair));
    }
    if (!unmet.empty())
        raise_run_error(MigrationErrorReason::dependency, target, "SM002",
                        "dependencies are not met; nothing was run:" + join(unmet),
                        "Apply what they depend on first.", result);
    return steps;
}

std::vector<AppliedMigration> applied_migrations(Session &session, const RunTarget &target)
{
    Result rows = session.conn().exec(ledger_sql::applied_rows, target.scope, target.kind_name(),
                                      target.environment);
    std::vector<AppliedMigration> out;
    for (const Row &row : rows) {
        AppliedMigration m{row[0].as<std::int64_t>(), row[1].as<std::string>(), row[2].as<bool>(),
                           row[3].as<bool>(), std::nullopt, std::nullopt};
        if (auto ms = row[4].as<std::optional<std::int64_t>>())
            m.lock_timeout = milliseconds(*ms);
        if (auto ms = row[5].as<std::optional<std::int64_t>>())
            m.statement_timeout = milliseconds(*ms);
        out.push_back(std::move(m));
    }
    return out;
}

void check_dependents(Session &session, const RunTarget &target, std::span<const Step> steps,
                      const RunResult &result)
{
    if (steps.empty() || target.kind != MigrationKind::migration)
        return;
    std::vector<std::int64_t> versions;
    for (const Step &step : steps)
        versions.push_back(step.version);
    Result rows = session.conn().exec(ledger_sql::dependents, target.scope, array_text(versions));
    if (rows.empty())
        return;
    std::string list;
    for (const Row &row : rows) {
        std::string kind = row[0].as<std::string>();
        std::string label = kind == "seed" ? "seed " + target.scope + "/" + row[1].as<std::string>() +
                                                 "/" + std::to_string(row[2].as<std::int64_t>()) +
                                                 " (" + row[3].as<std::string>() + ")"
                                           : target.label(row[2].as<std::int64_t>(),
                                                          row[3].as<std::string>());
        std::string on;
        for (auto version : row[4].as<std::vector<std::int64_t>>())
            on += (on.empty() ? "" : ", ") + std::to_string(version);
        list += "\n  " + label + " depends on " + on;
    }
    raise_run_error(MigrationErrorReason::dependency, target, "2BP01",
                    "cannot roll back: applied migrations or seeds outside this rollback depend "
                    "on it; nothing was rolled back:" + list,
                    "Roll those back first (seeds without a down file cannot be: write a "
                    "migration instead).",
                    result);
}

Step rollback_step(const MigratorOptions &options, const LoadedRun &run,
                   const AppliedMigration &applied)
{
    Step step;
    step.action = Step::Action::rollback;
    step.version = applied.version;
    step.name = applied.name;
    const MigrationFile *file = run.set.find(applied.version);
    if (file != nullptr && file->name == applied.name)
        step.file = file;  // for names in messages only: the SQL comes from the ledger
    step.transactional = applied.transactional;
    step.lock_timeout = applied.lock_timeout.value_or(options.lock_timeout);
    step.statement_timeout = applied.statement_timeout;
    step.build_lock_timeout = applied.lock_timeout;
    step.build_statement_timeout = applied.statement_timeout;
    if (!step.statement_timeout && options.statement_timeout.count() > 0)
        step.statement_timeout = options.statement_timeout;
    return step;
}

void check_steps(Runner &runner, std::span<const Step> steps)
{
    if (steps.empty())
        return;
    Connection &conn = runner.session.conn();
    const RunTarget &target = runner.target;
    std::deque<Params> params;
    std::vector<std::pair<std::size_t, std::string>> sent;  // step, what it would do when "pending"
    for (std::size_t i = 0; i < steps.size(); i++) {
        const Step &step = steps[i];
        if (step.action != Step::Action::apply) {
            Params &p = params.emplace_back(target.scope, step.version, target.kind_name());
            if (target.kind == MigrationKind::seed)
                p.add_text(target.environment);
            else
                p.add_null();
            conn.send(ledger_sql::check_rollback, p);
            sent.emplace_back(i, "rollback");
        }
        if (step.action == Step::Action::apply) {
            Params &p = params.emplace_back();
            add_migration_params(p, target, step);
            p.add(step.transactional).add(step.repair);
            conn.send(ledger_sql::check_migration, p);
            sent.emplace_back(i, "pending");
        }
    }
    std::vector<Result> results;
    if (std::optional<Error> error = server_error([&] { results = conn.sync(); })) {
        // The extension's message names the migration it refused.
        const Step *failed = &steps.front();
        for (const Step &step : steps) {
            if (error->message().find(target.label(step.version, step.name)) != std::string::npos) {
                failed = &step;
                break;
            }
        }
        raise_step_error(target, *failed, *error, "check", runner.result);
    }
    for (std::size_t i = 0; i < sent.size(); i++) {
        const Step &step = steps[sent[i].first];
        std::string state = results[i].value<std::string>();
        std::string action = state == "pending" ? sent[i].second : state;
        MigrationOutcome outcome = outcome_of(target, step, action, microseconds(0), 1);
        runner.result.migrations.push_back(std::move(outcome));
    }
    // A redo (rollback then apply) can only be checked halfway: its apply is pending.
    for (const Step &step : steps) {
        if (step.action == Step::Action::redo)
            runner.result.migrations.push_back(outcome_of(target, step, "pending", microseconds(0), 1));
    }
}

}  // namespace stratum::migrator
