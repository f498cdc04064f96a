// Non-transactional migrations (CREATE INDEX CONCURRENTLY and the like), by
// the protocol of docs/migrations.md: the scope's session lock taken without
// waiting (retried), check, each statement as its own simple query, record,
// release. The session settings it changes are reset before the lock goes.
#include <thread>

#include "migrator_internal.hpp"
#include "stratum/context_sql.hpp"

namespace stratum::migrator {
namespace {

constexpr const char *check_apply_sql =
    "SELECT stratum.check_migration($1, $2::bigint, $3, $4, $5, $6::bigint[], $7, $8, false, "
    "$9::boolean)";
constexpr const char *record_apply_sql =
    "SELECT stratum.record_migration($1, $2::bigint, $3, $4, $5, $6::bigint[], $7, $8, "
    "$9::interval, $10::boolean, $11::jsonb)";
constexpr const char *split_sql =
    "SELECT statement_no, line, command_tag, statement FROM stratum.split_migration($1) "
    "ORDER BY statement_no";
constexpr const char *check_rollback_sql = "SELECT stratum.check_rollback($1, $2::bigint, $3, $4)";
constexpr const char *split_stored_down_sql =
    "SELECT statement_no, line, command_tag, statement FROM stratum.split_migration("
    "(SELECT down_sql FROM stratum.schema_migrations WHERE scope = $1 AND kind = $2 "
    "AND environment = $3 AND version = $4::bigint)) ORDER BY statement_no";
constexpr const char *record_rollback_sql =
    "SELECT stratum.record_rollback($1, $2::bigint, $3, $4, $5::interval)";
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
    try {
        return conn.sync();
    } catch (const ConnectionLost &) {
        throw;
    } catch (const Error &error) {
        raise_step_error(target, step, error, phase, result, attempts);
    }
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

// Holds the scope's session lock; releasing resets the session settings too.
class ScopeLock {
public:
    ScopeLock(Runner &runner, const Step &step, RetryBudget &budget)
        : runner_(runner), scope_(runner.target.scope)
    {
        Connection &conn = runner.session.conn();
        bool announced = false;
        for (;;) {
            if (conn.exec("SELECT stratum.try_migration_lock($1)", runner.target.scope).value<bool>())
                break;
            auto delay = budget.next_delay(Transient::busy);
            if (!delay)
                raise_run_error(MigrationErrorReason::busy, runner.target, "55P03",
                                runner.target.label(step.version, step.name) +
                                    ": another migrator kept the migration lock of scope " +
                                    runner.target.scope + " longer than the wait limit",
                                "See stratum.migration_waits() for who holds it.", runner.result,
                                step.version, step.name);
            if (!announced) {
                runner.impl.emit({.type = MigrationEvent::Type::waiting, .scope = runner.target.scope,
                                  .version = step.version, .name = step.name,
                                  .message = "another migrator holds the migration lock of the scope",
                                  .delay = *delay});
                announced = true;
            }
            std::this_thread::sleep_for(*delay);
        }
        held_ = true;
    }
    ~ScopeLock() { release(); }

    // Queues the release (settings reset, lock released) behind what is
    // queued, so that it travels in the same round trip; released() once
    // that round trip succeeded.
    void send_release()
    {
        Connection &conn = runner_.session.conn();
        conn.send("RESET lock_timeout", no_params());
        conn.send("RESET statement_timeout", no_params());
        conn.send("SELECT stratum.release_migration_lock($1)", scope_);
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
    Runner &runner_;
    Params scope_;
    bool held_ = false;
};

}  // namespace

void Runner::run_nontransactional(const Step &step)
{
    if (step.action == Step::Action::redo) {
        Step down = step;
        down.action = Step::Action::rollback;
        RetryBudget rollback_budget(impl.options);
        rollback_nontransactional(down, rollback_budget);
        Step up = step;
        up.action = Step::Action::apply;
        RetryBudget apply_budget(impl.options);
        apply_nontransactional(up, apply_budget);
        return;
    }
    RetryBudget budget(impl.options);
    if (step.action == Step::Action::rollback)
        rollback_nontransactional(step, budget);
    else
        apply_nontransactional(step, budget);
}

namespace {

// Runs the statements one by one; returns the failed one's index or -1.
struct StatementFailure {
    std::size_t index;
    Error error;
};

std::optional<StatementFailure> run_statements(Session &session, const std::vector<Statement> &statements)
{
    for (std::size_t i = 0; i < statements.size(); i++) {
        try {
            simple_query(session, statements[i].sql);
        } catch (const ConnectionLost &) {
            throw;
        } catch (const Error &error) {
            return StatementFailure{i, error};
        }
    }
    return std::nullopt;
}

}  // namespace

void Runner::apply_nontransactional(const Step &step, RetryBudget &budget)
{
    const MigrationFile &file = *step.file;
    Connection &conn = session.conn();
    const std::string kind = target.kind_name();
    for (;;) {
        ScopeLock lock(*this, step, budget);
        auto key_params = [&](Params &p) { add_migration_params(p, target, step); };
        Params check;
        key_params(check);
        check.add(step.repair);
        Params split(file.up_sql);
        Params settings = session_settings(step);
        conn.send(check_apply_sql, check);
        conn.send(split_sql, split);
        conn.send(session_settings_sql, settings);
        std::vector<Result> planned =
            sync_step(conn, target, step, "check", result, budget.attempts());
        std::string state = planned[0].value<std::string>();
        if (state == "skipped") {
            record(outcome_of(target, step, "skipped", microseconds(0), budget.attempts()));
            return;
        }

        Params actor(impl.options.actor);
        Params context(target.scope, std::to_string(step.version), step.name, std::string("up"));
        microseconds elapsed{0};
        if (state == "pending") {
            run_before_each(conn, target, step, context, result, budget.attempts());
            std::vector<Statement> statements = statements_of(planned[1]);
            auto started = SteadyClock::now();
            auto failure = run_statements(session, statements);
            elapsed = std::chrono::duration_cast<microseconds>(SteadyClock::now() - started);
            if (failure) {
                const Statement &s = statements[failure->index];
                Transient why = classify(failure->error);
                lock.release();
                auto delay = why == Transient::no ? std::nullopt : budget.next_delay(why);
                if (delay) {
                    impl.emit({.type = MigrationEvent::Type::retrying, .scope = target.scope,
                               .version = step.version, .name = step.name,
                               .message = failure->error.message() +
                                          (failure->error.detail().empty() ? "" : " " + failure->error.detail()),
                               .attempt = budget.attempts(), .delay = *delay});
                    std::this_thread::sleep_for(*delay);
                    continue;
                }
                ErrorFields fields = failure->error.fields();
                fields.message = target.label(step.version, step.name) + " failed at statement " +
                                 std::to_string(s.number) + " (line " + std::to_string(s.line) +
                                 ", " + s.tag + "): " + fields.message;
                if (s.number > 1)
                    fields.hint = "The migration is not transactional: statements 1 to " +
                                  std::to_string(s.number - 1) +
                                  " stay done. Make its statements idempotent (IF NOT EXISTS, "
                                  "drop an INVALID index first) and run it again.";
                impl.emit({.type = MigrationEvent::Type::failed, .scope = target.scope,
                           .version = step.version, .name = step.name, .message = fields.message});
                raise_step_error(target, step, Error(std::move(fields)), "apply", result,
                                 budget.attempts());
            }
        }

        if (!impl.options.actor.empty())
            conn.send(context_sql::set_actor, actor);
        if (state == "pending" && !target.after_each.empty())
            queue_after_each(conn, target, context);
        Params record_params;
        key_params(record_params);
        record_params.add_text(std::to_string(elapsed.count()) + " microseconds")
            .add(state == "repair")
            .add_text(metadata_for(step));
        conn.send(record_apply_sql, record_params);
        std::size_t recorded_at = conn.queued() - 1;
        lock.send_release();
        std::vector<Result> recorded;
        try {
            recorded = conn.sync();
        } catch (const ConnectionLost &) {
            throw;
        } catch (const Error &error) {
            raise_step_error(target, step, error,
                             phase_of(error) == "hook:after_each" ? "hook:after_each" : "record",
                             result, budget.attempts());
        }
        lock.released();
        record(outcome_of(target, step, recorded[recorded_at].value<std::string>(), elapsed,
                          budget.attempts()));
        return;
    }
}

void Runner::rollback_nontransactional(const Step &step, RetryBudget &budget)
{
    Connection &conn = session.conn();
    const std::string kind = target.kind_name();
    for (;;) {
        ScopeLock lock(*this, step, budget);
        Params key(target.scope, step.version, kind);
        add_environment(key, target);
        Params split(target.scope, kind, target.environment, step.version);
        Params settings = session_settings(step);
        conn.send(check_rollback_sql, key);
        conn.send(split_stored_down_sql, split);
        conn.send(session_settings_sql, settings);
        std::vector<Result> planned =
            sync_step(conn, target, step, "check", result, budget.attempts());
        if (planned[0].value<std::string>() == "skipped") {
            record(outcome_of(target, step, "skipped", microseconds(0), budget.attempts()));
            return;
        }
        Params context(target.scope, std::to_string(step.version), step.name, std::string("down"));
        run_before_each(conn, target, step, context, result, budget.attempts());
        std::vector<Statement> statements = statements_of(planned[1]);
        auto started = SteadyClock::now();
        auto failure = run_statements(session, statements);
        auto elapsed = std::chrono::duration_cast<microseconds>(SteadyClock::now() - started);
        if (failure) {
            const Statement &s = statements[failure->index];
            Transient why = classify(failure->error);
            lock.release();
            auto delay = why == Transient::no ? std::nullopt : budget.next_delay(why);
            if (delay) {
                impl.emit({.type = MigrationEvent::Type::retrying, .scope = target.scope,
                           .version = step.version, .name = step.name,
                           .message = failure->error.message(), .attempt = budget.attempts(),
                           .delay = *delay});
                std::this_thread::sleep_for(*delay);
                continue;
            }
            ErrorFields fields = failure->error.fields();
            fields.message = target.label(step.version, step.name) +
                             " rollback failed at statement " + std::to_string(s.number) +
                             " (line " + std::to_string(s.line) + ", " + s.tag +
                             ") of its stored down SQL: " + fields.message;
            if (s.number > 1)
                fields.hint = "The rollback is not transactional: statements 1 to " +
                              std::to_string(s.number - 1) + " stay done.";
            raise_step_error(target, step, Error(std::move(fields)), "rollback", result,
                             budget.attempts());
        }
        Params actor(impl.options.actor);
        if (!impl.options.actor.empty())
            conn.send(context_sql::set_actor, actor);
        if (!target.after_each.empty())
            queue_after_each(conn, target, context);
        Params record_params(target.scope, step.version, kind);
        add_environment(record_params, target);
        record_params.add_text(std::to_string(elapsed.count()) + " microseconds");
        conn.send(record_rollback_sql, record_params);
        std::size_t recorded_at = conn.queued() - 1;
        lock.send_release();
        std::vector<Result> recorded =
            sync_step(conn, target, step, "record", result, budget.attempts());
        lock.released();
        record(outcome_of(target, step, recorded[recorded_at].value<std::string>(), elapsed,
                          budget.attempts()));
        return;
    }
}

}  // namespace stratum::migrator
