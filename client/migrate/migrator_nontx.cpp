// Non-transactional migrations (CREATE INDEX CONCURRENTLY and the like), by
// the protocol of docs/migrations.md: the scope's session lock taken without
// waiting (retried), check, each statement as its own simple query, record,
// release. The session settings it changes are reset before the lock goes.
#include <thread>

#include "migrator_internal.hpp"
#include "stratum/context_sql.hpp"
#include "stratum/ledger_sql.hpp"

namespace stratum::migrator {
namespace {

constexpr const char *session_settings_sql =
    "SELECT set_config('lock_timeout', $1, false), "
    "set_config('statement_timeout', coalesce($2, current_setting('statement_timeout')), false)";
constexpr const char *hook_context_sql =
    "SELECT set_config('stratum_migration.scope', $1, true), "
    "set_config('stratum_migration.version', $2, true), "
    "set_config('stratum_migration.name', $3, true), "
    "set_config('stratum_migration.action', $4, true)";

struct Statement {
    int number;
    int line;
    std::string tag;
    std::string sql;
};

std::vector<Statement> statements_of(const Result &rows)
{
    std::vector<Statement> out;
    for (const Row &row : rows)
        out.push_back({row[0].as<int>(), row[1].as<int>(), row[2].as<std::string>(),
                       row[3].as<std::string>()});
    return out;
}

// The session settings of a step: its lock_timeout, and its
// statement_timeout or the server's.
Params session_settings(const Step &step)
{
    Params settings;
    settings.add_text(std::to_string(step.lock_timeout.count()) + "ms");
    if (step.statement_timeout)
        settings.add_text(std::to_string(step.statement_timeout->count()) + "ms");
    else
        settings.add_null();
    return settings;
}

// Syncs the queued statements; a server error becomes the step's failure in
// `phase` (a lost connection propagates as it is).
std::vector<Result> sync_step(Connection &conn, const RunTarget &target, const Step &step,
                              const char *phase, const RunResult &result, int attempts)
{
    std::vector<Result> results;
    if (std::optional<Error> error = server_error([&] { results = conn.sync(); }))
        raise_step_error(target, step, *error, phase, result, attempts);
    return results;
}

// Queues the before_each hook with its context and runs it.
void run_before_each(Connection &conn, const RunTarget &target, const Step &step,
                     const Params &context, const RunResult &result, int attempts)
{
    if (target.before_each.empty())
        return;
    conn.send(hook_context_sql, context);
    for (const auto &statement : target.before_each)
        conn.send(statement, no_params());
    sync_step(conn, target, step, "hook:before_each", result, attempts);
}

// Queues the after_each hook with its context (it runs with the record).
void queue_after_each(Connection &conn, const RunTarget &target, const Params &context)
{
    conn.send(hook_context_sql, context);
    for (const auto &statement : target.after_each)
        conn.send(statement, no_params());
}

// The scope's session lock; releasing resets the session settings too.
class ScopeLock {
public:
    ScopeLock(Runner &runner, const Step &step)
        : runner_(runner), step_(step), scope_(runner.target.scope)
    {
    }
    ~ScopeLock() { release(); }

    // Takes the lock without waiting, with what `queue` sends riding in the
    // same round trip behind the attempt (it runs either way: it must only
    // read, or set what the lock's release resets); retried with backoff
    // while another migrator holds the lock. The queued statements' results.
    template <class Queue>
    std::vector<Result> take(RetryBudget &budget, Queue &&queue)
    {
        Connection &conn = runner_.session.conn();
        const RunTarget &target = runner_.target;
        bool announced = false;
        for (;;) {
            conn.send(ledger_sql::try_lock, scope_);
            queue();
            std::vector<Result> results;
            if (std::optional<Error> error = server_error([&] { results = conn.sync(); })) {
                // The lock may have been taken before the error: a
                // session lock outlives the failed transaction.
                held_ = uncertain_ = true;
                raise_step_error(target, step_, *error, "check", runner_.result, budget.attempts());
            }
            if (results.front().value<bool>()) {
                held_ = true;
                results.erase(results.begin());
                return results;
            }
            auto delay = budget.next_delay(Transient::busy);
            if (!delay) {
                reset_settings();
                raise_run_error(MigrationErrorReason::busy, target, "55P03",
                                target.label(step_.version, step_.name) +
                                    ": another migrator kept the migration lock of scope " +
                                    target.scope + " longer than the wait limit",
                                "See stratum.migration_waits() for who holds it.", runner_.result,
                                step_.version, step_.name);
            }
            if (!announced) {
                runner_.impl.emit({.type = MigrationEvent::Type::waiting, .scope = target.scope,
                                   .version = step_.version, .name = step_.name,
                                   .message = "another migrator holds the migration lock of the scope",
                                   .delay = *delay});
                announced = true;
            }
            std::this_thread::sleep_for(*delay);
        }
    }

    // Queues the release (settings reset, lock released) behind what is
    // queued, so that it travels in the same round trip; released() once
    // that round trip succeeded.
    void send_release()
    {
        Connection &conn = runner_.session.conn();
        send_resets(conn);
        conn.send(uncertain_ ? ledger_sql::release_lock_if_held : ledger_sql::release_lock, scope_);
    }
    void released() noexcept { held_ = false; }

    void release() noexcept
    {
        if (!held_)
            return;
        held_ = false;
        try {
            Connection &conn = runner_.session.conn();
            if (conn.in_transaction())
                conn.exec("ROLLBACK");
            send_release();
            conn.sync();
        } catch (...) {
            // The lock and settings die with the session: make sure it does.
            runner_.session.discard();
        }
    }

private:
    static void send_resets(Connection &conn)
    {
        conn.send("RESET lock_timeout", no_params());
        conn.send("RESET statement_timeout", no_params());
    }
    // The settings a step changed, when it gives up without the lock.
    void reset_settings() noexcept
    {
        try {
            Connection &conn = runner_.session.conn();
            send_resets(conn);
            conn.sync();
        } catch (...) {
            runner_.session.discard();
        }
    }

    Runner &runner_;
    const Step &step_;
    Params scope_;
    bool held_ = false;
    bool uncertain_ = false;  // held_ after an error: released only if held
};

}  // namespace

void Runner::run_nontransactional(const Step &step)
{
    if (step.action == Step::Action::redo) {
        Step down = step;
        down.action = Step::Action::rollback;
        RetryBudget rollback_budget(impl.options);
        run_nontransactional_step(down, rollback_budget);
        Step up = step;
        up.action = Step::Action::apply;
        RetryBudget apply_budget(impl.options);
        run_nontransactional_step(up, apply_budget);
        return;
    }
    RetryBudget budget(impl.options);
    run_nontransactional_step(step, budget);
}

namespace {

struct StatementFailure {
    std::size_t index;
    Error error;
};

// Runs the statements one by one; the failed one and its error, if any.
// `prepared`: the first statement's build was prepared with the check.
std::optional<StatementFailure> run_statements(Session &session, const Step &step,
                                               const std::vector<Statement> &statements,
                                               const BuildPreparation *prepared)
{
    const Params settings = session_settings(step);
    for (std::size_t i = 0; i < statements.size(); i++)
        if (auto error = run_nontransactional_statement(session, step, statements[i].sql, settings,
                                                        i == 0 ? prepared : nullptr))
            return StatementFailure{i, std::move(*error)};
    return std::nullopt;
}

// The server's split is the one statement the preparation was made for.
bool prepared_for(const BuildPreparation &prepared, const std::vector<Statement> &statements)
{
    if (statements.size() != 1)
        return false;
    auto build = detail::concurrent_build_of(statements.front().sql);
    return build && prepared.prepares(*build);
}

// The server's message with its detail, for retry events.
std::string with_detail(const Error &error)
{
    return error.detail().empty() ? error.message() : error.message() + " " + error.detail();
}

// A statement of a non-transactional step failed for good: the step's
// error names the statement and says what stays done.
[[noreturn]] void raise_statement_failure(Runner &runner, const Step &step, const Statement &statement,
                                          const Error &error, int attempts)
{
    const RunTarget &target = runner.target;
    const bool rollback = step.action == Step::Action::rollback;
    ErrorFields fields = error.fields();
    fields.message = target.label(step.version, step.name) + (rollback ? " rollback" : "") +
                     " failed at statement " + std::to_string(statement.number) + " (line " +
                     std::to_string(statement.line) + ", " + statement.tag + ")" +
                     (rollback ? " of its stored down SQL" : "") + ": " + fields.message;
    if (statement.number > 1)
        fields.hint = std::string(rollback ? "The rollback" : "The migration") +
                      " is not transactional: statements 1 to " +
                      std::to_string(statement.number - 1) + " stay done." +
                      (rollback ? ""
                                : " Make its statements idempotent (IF NOT EXISTS) and run it "
                                  "again.");
    runner.impl.emit({.type = MigrationEvent::Type::failed, .scope = target.scope,
                      .version = step.version, .name = step.name, .message = fields.message});
    raise_step_error(target, step, Error(std::move(fields)), rollback ? "rollback" : "apply",
                     runner.result, attempts);
}

}  // namespace

void Runner::run_nontransactional_step(const Step &step, RetryBudget &budget)
{
    const bool rollback = step.action == Step::Action::rollback;
    Connection &conn = session.conn();
    const std::string kind = target.kind_name();
    // The ledger key of a rollback: scope, version, kind, environment.
    auto rollback_key = [&] {
        Params key(target.scope, step.version, kind);
        add_environment(key, target);
        return key;
    };
    // A step that is one concurrent build (the usual CREATE INDEX
    // CONCURRENTLY file) prepares the build with its check: the lock, the
    // check, the split and the build's settings take one round trip.
    std::optional<BuildPreparation> build;
    if (target.before_each.empty())
        if (auto single = single_build_of(step))
            build.emplace(step, std::move(*single));
    for (;;) {
        ScopeLock lock(*this, step);
        Params check = rollback ? rollback_key() : Params();
        Params split;
        if (rollback) {
            split = Params(target.scope, kind, target.environment, step.version);
        } else {
            add_migration_params(check, target, step);
            check.add(step.repair);
            split = Params(step.file->up_sql);
        }
        Params settings = session_settings(step);
        std::vector<Result> planned = lock.take(budget, [&] {
            conn.send(rollback ? ledger_sql::check_rollback
                               : ledger_sql::check_nontransactional_migration,
                      check);
            conn.send(rollback ? ledger_sql::split_stored_down : ledger_sql::split_migration, split);
            if (build)
                build->queue(conn);
            else
                conn.send(session_settings_sql, settings);
        });
        if (build)
            build->take(planned, 2);  // behind the check's and the split's results
        const std::string state = planned[0].value<std::string>();
        if (state == "skipped") {
            record(outcome_of(target, step, "skipped", microseconds(0), budget.attempts()));
            return;
        }

        // "repair" records the changed file as it is now without running it.
        const bool runs = state != "repair";
        Params context(target.scope, std::to_string(step.version), step.name,
                       std::string(rollback ? "down" : "up"));
        microseconds elapsed{0};
        if (runs) {
            run_before_each(conn, target, step, context, result, budget.attempts());
            std::vector<Statement> statements = statements_of(planned[1]);
            const BuildPreparation *prepared = build ? &*build : nullptr;
            if (prepared != nullptr && !prepared_for(*prepared, statements)) {
                // The server split the file otherwise: the step's own settings.
                conn.send(session_settings_sql, settings);
                sync_step(conn, target, step, "check", result, budget.attempts());
                prepared = nullptr;
            }
            auto started = SteadyClock::now();
            std::optional<StatementFailure> failure =
                run_statements(session, step, statements, prepared);
            elapsed = std::chrono::duration_cast<microseconds>(SteadyClock::now() - started);
            if (failure) {
                lock.release();
                const Transient why = classify(failure->error);
                if (auto delay = why == Transient::no ? std::nullopt : budget.next_delay(why)) {
                    impl.emit({.type = MigrationEvent::Type::retrying, .scope = target.scope,
                               .version = step.version, .name = step.name,
                               .message = with_detail(failure->error),
                               .attempt = budget.attempts(), .delay = *delay});
                    std::this_thread::sleep_for(*delay);
                    continue;
                }
                raise_statement_failure(*this, step, statements[failure->index], failure->error,
                                        budget.attempts());
            }
        }

        // A repair runs nothing: the record waits under the step's settings,
        // not the build's that were prepared for it.
        if (build && !runs)
            conn.send(session_settings_sql, settings);
        Params actor(impl.options.actor);
        if (!impl.options.actor.empty())
            conn.send(context_sql::set_actor, actor);
        if (runs && !target.after_each.empty())
            queue_after_each(conn, target, context);
        Params record_params = rollback ? rollback_key() : Params();
        if (!rollback)
            add_migration_params(record_params, target, step);
        record_params.add_text(std::to_string(elapsed.count()) + " microseconds");
        if (!rollback)
            record_params.add(state == "repair").add_text(metadata_for(step));
        conn.send(rollback ? ledger_sql::record_rollback : ledger_sql::record_migration, record_params);
        const std::size_t recorded_at = conn.queued() - 1;
        lock.send_release();
        std::vector<Result> recorded;
        if (std::optional<Error> error = server_error([&] { recorded = conn.sync(); }))
            raise_step_error(target, step, *error,
                             phase_of(*error) == "hook:after_each" ? "hook:after_each" : "record",
                             result, budget.attempts());
        lock.released();
        record(outcome_of(target, step, recorded[recorded_at].value<std::string>(), elapsed,
                          budget.attempts()));
        return;
    }
}

}  // namespace stratum::migrator
