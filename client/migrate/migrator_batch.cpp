// Transactional migrations, pipelined: each is one transaction (BEGIN, its
// settings, before_each, stratum.apply_migration or rollback_migration,
// after_each, COMMIT), and up to batch_size of them travel in one round
// trip. The server stops at the first failure; what committed before it
// stays, the failed one leaves nothing, and lock timeouts are retried.
#include <algorithm>
#include <cstdio>
#include <map>
#include <random>
#include <thread>

#include "migrator_internal.hpp"
#include "stratum/context_sql.hpp"
#include "stratum/ledger_sql.hpp"

namespace stratum::migrator {

Step apply_step(const RunTarget &target, const MigratorOptions &options, const MigrationFile &file,
                bool repair)
{
    Step step;
    step.action = Step::Action::apply;
    step.version = file.version;
    step.name = file.name;
    step.file = &file;
    step.repair = repair;
    step.transactional = file.header.transactional;
    step.lock_timeout = file.header.lock_timeout.value_or(options.lock_timeout);
    step.statement_timeout = file.header.statement_timeout;
    step.build_lock_timeout = file.header.lock_timeout;
    step.build_statement_timeout = file.header.statement_timeout;
    if (!step.statement_timeout && options.statement_timeout.count() > 0)
        step.statement_timeout = options.statement_timeout;
    step.metadata = metadata_of(target, file);
    return step;
}

Runner::Runner(Migrator::Impl &impl_, Session &session_, RunTarget &target_, RunResult &result_)
    : impl(impl_), session(session_), target(target_), result(result_)
{
    thread_local std::mt19937_64 random{std::random_device{}()};
    char id[33];
    std::snprintf(id, sizeof id, "%016llx%016llx", static_cast<unsigned long long>(random()),
                  static_cast<unsigned long long>(random()));
    run_id_ = id;
    // Settings of each migration's transaction, in one statement: its
    // statement_timeout (NULL keeps the session's), the actor, and for hooks
    // which migration runs.
    int n = 1;
    prelude_sql_ = "SELECT set_config('statement_timeout', coalesce($" + std::to_string(n++) +
                   ", current_setting('statement_timeout')), true)";
    if (!impl.options.actor.empty())
        prelude_sql_ += ", " + context_sql::set_actor_call(n++);
    if (target.hooks != nullptr && target.hooks->each()) {
        for (const char *name : {"scope", "version", "name", "action"})
            prelude_sql_ += std::string(", set_config('stratum_migration.") + name + "', $" +
                            std::to_string(n++) + ", true)";
    }
}

void Runner::prepare_hooks()
{
    if (target.hooks == nullptr || !target.hooks->each())
        return;
    Connection &conn = session.conn();
    std::deque<Params> params;
    std::vector<const HookFile *> hooks;
    for (const auto *hook : {&target.hooks->before_each, &target.hooks->after_each}) {
        if (!*hook)
            continue;
        hooks.push_back(&**hook);
        params.emplace_back(hooks.back()->sql);
        conn.send(ledger_sql::split_hook, params.back());
    }
    std::vector<Result> results;
    if (std::optional<Error> error = server_error([&] { results = conn.sync(); }))
        throw MigrationFileError({{target.shown(hooks.front()->file), 0, error->message()}});
    for (std::size_t i = 0; i < hooks.size(); i++) {
        auto &statements = hooks[i]->name == "before_each" ? target.before_each : target.after_each;
        for (const Row &row : results[i]) {
            if (row[1].view() != "transactional")
                throw MigrationFileError(
                    {{target.shown(hooks[i]->file), row[2].as<int>(),
                      "a hook runs inside each migration's transaction and cannot hold a " +
                          std::string(row[1].view()) + " statement"}});
            statements.push_back(row[0].as<std::string>());
        }
    }
}

void Runner::run_hook(const std::optional<HookFile> &hook)
{
    if (!hook)
        return;
    std::string scope_literal = target.scope;
    for (std::size_t at = 0; (at = scope_literal.find('\'', at)) != std::string::npos; at += 2)
        scope_literal.insert(at, 1, '\'');
    // One simple query: the hook's statements run as one transaction, and
    // its line numbers stay those of the file (the prefix adds no line).
    std::string sql = "SELECT set_config('stratum_migration.scope', '" + scope_literal +
                      "', true), set_config('stratum_migration.action', '" + result.operation +
                      "', true); " + hook->sql;
    if (std::optional<Error> error = server_error([&] { simple_query(session, sql); })) {
        ErrorFields fields = error->fields();
        fields.message = "hook " + target.shown(hook->file) + ": " + fields.message;
        MigrationFailure failure{.scope = target.scope, .kind = target.kind_name(),
                                 .environment = target.environment, .file = target.shown(hook->file),
                                 .phase = "hook:" + hook->name};
        throw MigrationError(MigrationErrorReason::failed, std::move(fields), std::move(failure),
                             result);
    }
    result.hooks.push_back(hook->file);
    impl.emit({.type = MigrationEvent::Type::hook, .scope = target.scope, .name = hook->name,
               .message = hook->file});
}

void Runner::run(std::span<const Step> steps)
{
    std::size_t i = 0;
    while (i < steps.size()) {
        if (!steps[i].transactional) {
            run_nontransactional(steps[i]);
            i++;
            continue;
        }
        std::size_t end = i;
        while (end < steps.size() && steps[end].transactional)
            end++;
        run_transactional(steps.subspan(i, end - i));
        i = end;
    }
}

void Runner::send_prelude(const Step &step, std::deque<Params> &params)
{
    Params &p = params.emplace_back();
    if (step.statement_timeout)
        p.add_text(std::to_string(step.statement_timeout->count()) + "ms");
    else
        p.add_null();
    if (!impl.options.actor.empty())
        p.add_text(impl.options.actor);
    if (target.hooks != nullptr && target.hooks->each()) {
        p.add_text(target.scope);
        p.add_text(std::to_string(step.version));
        p.add_text(step.name);
        p.add_text(step.action == Step::Action::apply      ? "up"
                   : step.action == Step::Action::rollback ? "down"
                                                           : "redo");
    }
    session.conn().send(prelude_sql_, p);
}

void add_environment(Params &params, const RunTarget &target)
{
    if (target.kind == MigrationKind::seed)
        params.add_text(target.environment);
    else
        params.add_null();
}

void add_migration_params(Params &params, const RunTarget &target, const Step &step)
{
    const MigrationFile &file = *step.file;
    params.add_text(target.scope).add(step.version).add_text(step.name).add_text(file.up_sql);
    if (file.down_sql)
        params.add_text(*file.down_sql);
    else
        params.add_null();
    params.add_text(array_text(file.header.depends_on)).add_text(target.kind_name());
    add_environment(params, target);
}

void Runner::send_apply(const Step &step, std::deque<Params> &params)
{
    Params &p = params.emplace_back();
    add_migration_params(p, target, step);
    p.add_text(interval_text(step.lock_timeout)).add(step.repair).add_text(metadata_for(step));
    session.conn().send(ledger_sql::apply_migration, p);
}

void Runner::send_rollback(const Step &step, std::deque<Params> &params)
{
    Params &p = params.emplace_back();
    p.add_text(target.scope).add(step.version).add_text(target.kind_name());
    if (target.kind == MigrationKind::seed)
        p.add_text(target.environment);
    else
        p.add_null();
    p.add_text(interval_text(step.lock_timeout));
    session.conn().send(ledger_sql::rollback_migration, p);
}

std::string Runner::metadata_for(const Step &step) const
{
    // step.metadata is a JSON object: add one member before its closing brace.
    std::string metadata = step.metadata.empty() ? "{}" : step.metadata;
    std::size_t close = metadata.rfind('}');
    bool empty = metadata.find_first_not_of(" \t\n{") == close;
    metadata.insert(close, std::string(empty ? "" : ",") + "\"run\":\"" + run_id_ + "\"");
    return metadata;
}

std::pair<std::string, microseconds> Runner::main_outcome(const Result &result)
{
    Row row = result.one_row();
    return {row[0].as<std::string>(), microseconds(row[1].as<std::int64_t>())};
}

std::string Runner::phase_of(const Error &error) const
{
    const std::string &sql = error.statement();
    if (sql == ledger_sql::apply_migration)
        return "apply";
    if (sql == ledger_sql::rollback_migration)
        return "rollback";
    if (sql == "COMMIT")
        return "commit";
    if (sql == prelude_sql_)
        return "settings";
    if (std::find(target.before_each.begin(), target.before_each.end(), sql) != target.before_each.end())
        return "hook:before_each";
    if (std::find(target.after_each.begin(), target.after_each.end(), sql) != target.after_each.end())
        return "hook:after_each";
    return "apply";
}

void Runner::record(MigrationOutcome outcome)
{
    MigrationEvent::Type type = outcome.action == "skipped"       ? MigrationEvent::Type::skipped
                                : outcome.action == "rolled_back" ? MigrationEvent::Type::rolled_back
                                                                  : MigrationEvent::Type::applied;
    impl.emit({.type = type, .scope = outcome.scope, .version = outcome.version,
               .name = outcome.name, .message = outcome.action, .attempt = outcome.attempts,
               .duration = outcome.duration});
    result.migrations.push_back(std::move(outcome));
}

Runner::BatchEnd Runner::send_batch(std::span<const Step> steps)
{
    Connection &conn = session.conn();
    std::deque<Params> params;
    std::vector<std::vector<std::size_t>> main_results(steps.size());
    std::size_t sent = 0;
    auto send = [&](std::string_view sql, const Params &p, bool internal = false) {
        if (internal)
            conn.send_internal(sql, p);
        else
            conn.send(sql, p);
        sent++;
    };
    for (std::size_t i = 0; i < steps.size(); i++) {
        const Step &step = steps[i];
        send("BEGIN", no_params(), true);
        send_prelude(step, params);
        sent++;
        for (const std::string &statement : target.before_each)
            send(statement, no_params());
        if (step.action != Step::Action::apply) {
            send_rollback(step, params);
            main_results[i].push_back(sent++);
        }
        if (step.action != Step::Action::rollback) {
            send_apply(step, params);
            main_results[i].push_back(sent++);
        }
        for (const std::string &statement : target.after_each)
            send(statement, no_params());
        send("COMMIT", no_params(), true);
    }

    std::vector<Result> results;
    if (std::optional<Error> error = server_error([&] { results = conn.sync(); })) {
        BatchEnd end;
        end.error = *error;
        end.failed_phase = phase_of(*error);
        if (conn.in_transaction())
            conn.exec("ROLLBACK");
        std::vector<MigrationOutcome> done;
        end.completed = completed_in_ledger(steps, done);
        for (auto &outcome : done)
            record(std::move(outcome));
        return end;
    }
    for (std::size_t i = 0; i < steps.size(); i++) {
        for (std::size_t index : main_results[i]) {
            auto [action, duration] = main_outcome(results[index]);
            record(outcome_of(target, steps[i], action, duration, 1));
        }
    }
    return BatchEnd{steps.size(), std::nullopt, {}};
}

std::size_t Runner::completed_in_ledger(std::span<const Step> steps,
                                        std::vector<MigrationOutcome> &done)
{
    // A redo is sent alone: its failure is its own.
    if (steps.size() == 1 || steps.front().action == Step::Action::redo)
        return 0;
    std::vector<std::int64_t> versions;
    for (const Step &step : steps)
        versions.push_back(step.version);
    Result rows = session.conn().exec(ledger_sql::batch_rows, target.scope, target.kind_name(),
                                      target.environment, array_text(versions));
    struct LedgerState {
        std::string status, checksum;
        std::int64_t duration, rollback_duration;
        std::string run;
    };
    std::map<std::int64_t, LedgerState> ledger;
    for (const auto &row : rows)
        ledger[row[0].as<std::int64_t>()] = {row[1].as<std::string>(), row[2].as<std::string>(),
                                             row[3].as<std::int64_t>(), row[4].as<std::int64_t>(),
                                             row[5].as<std::string>()};
    std::size_t completed = 0;
    for (const Step &step : steps) {
        auto it = ledger.find(step.version);
        bool is_done = it != ledger.end() &&
                       (step.action == Step::Action::rollback
                            ? it->second.status == "rolled_back"
                            : it->second.status == "applied" && it->second.checksum == step.file->checksum);
        if (!is_done)
            break;
        bool rollback = step.action == Step::Action::rollback;
        bool ours = rollback || it->second.run == run_id_;
        const char *action = rollback ? "rolled_back"
                             : !ours  ? "skipped"
                             : step.repair ? "repaired"
                                           : "applied";
        done.push_back(outcome_of(target, step, action,
                                  microseconds(!ours       ? 0
                                               : rollback ? it->second.rollback_duration
                                                          : it->second.duration),
                                  1));
        completed++;
    }
    // Every step looks done (another migrator finished them meanwhile): the
    // error still belongs to one of them; blame the last, which is retried
    // and reported then, so not here too (it was reported twice).
    if (completed == steps.size()) {
        done.pop_back();
        completed--;
    }
    return completed;
}

void Runner::run_transactional(std::span<const Step> steps)
{
    const std::size_t batch = std::max<std::size_t>(impl.options.batch_size, 1);
    std::size_t next = 0;
    std::optional<RetryBudget> budget;
    std::size_t budget_for = steps.size();
    while (next < steps.size()) {
        // A redo is a pair of calls in one transaction: sent alone.
        std::size_t end = steps[next].action == Step::Action::redo
                              ? next + 1
                              : std::min(next + batch, steps.size());
        for (std::size_t i = next + 1; i < end; i++) {
            if (steps[i].action == Step::Action::redo) {
                end = i;
                break;
            }
        }
        std::size_t recorded = result.migrations.size();
        BatchEnd outcome = send_batch(steps.subspan(next, end - next));
        if (budget && budget_for == next && result.migrations.size() > recorded)
            result.migrations[recorded].attempts = budget->attempts();
        if (!outcome.error) {
            next = end;
            continue;
        }
        std::size_t failed = next + outcome.completed;
        const Step &step = steps[failed];
        const Error &error = *outcome.error;
        if (failed != budget_for) {
            budget.emplace(impl.options);
            budget_for = failed;
        }
        if (step.action == Step::Action::rollback && error.sqlstate() == "25001" &&
            outcome.failed_phase == "rollback") {
            // Its down SQL cannot run in a transaction (DROP INDEX
            // CONCURRENTLY): roll it back the non-transactional way.
            Step alone = step;
            alone.transactional = false;
            run_nontransactional(alone);
            next = failed + 1;
            continue;
        }
        Transient why = classify(error);
        std::optional<milliseconds> delay =
            why == Transient::no ? std::nullopt : budget->next_delay(why);
        if (!delay) {
            impl.emit({.type = MigrationEvent::Type::failed, .scope = target.scope,
                       .version = step.version, .name = step.name, .message = error.message(),
                       .attempt = budget->attempts()});
            raise_step_error(target, step, error, outcome.failed_phase, result, budget->attempts());
        }
        std::string blocker = error.detail().empty() ? "" : " " + error.detail();
        impl.emit({.type = why == Transient::busy ? MigrationEvent::Type::waiting
                                                  : MigrationEvent::Type::retrying,
                   .scope = target.scope, .version = step.version, .name = step.name,
                   .message = error.message() + blocker, .attempt = budget->attempts(),
                   .delay = *delay});
        std::this_thread::sleep_for(*delay);
        next = failed;
    }
}

}  // namespace stratum::migrator
