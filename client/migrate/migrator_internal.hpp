// What the pieces of the migrator share: the connection of one operation, the
// description of a run (scope, kind, hooks), one step of a run, retries, and
// turning server errors into MigrationErrors.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "concurrent_build.hpp"
#include "stratum/connection.hpp"
#include "stratum/migrator.hpp"
#include "stratum/pool.hpp"

namespace stratum {

struct Migrator::Impl {
    std::string conninfo;  // "" when borrowing from a pool
    Pool *pool = nullptr;
    MigratorOptions options;
    std::mutex event_mutex;

    // Hands the event to options.on_event (one call at a time).
    void emit(const MigrationEvent &event);
};

namespace migrator {

using SteadyClock = std::chrono::steady_clock;
using std::chrono::microseconds;
using std::chrono::milliseconds;

// The connection of one operation (or one tenant worker): opened from the
// conninfo, or leased from the pool. Closed rather than reused when its
// session state is unknown.
class Session {
public:
    explicit Session(Migrator::Impl &impl);
    ~Session();
    Session(const Session &) = delete;
    Session &operator=(const Session &) = delete;

    // Throws ConnectionLost once discarded.
    Connection &conn();
    Connection *operator->() { return &conn(); }
    void discard() noexcept;
    // Round trips made by simple queries (outside the pipeline) so far.
    std::uint64_t extra_round_trips = 0;

private:
    std::unique_ptr<Connection> own_;
    Lease lease_;
};

// One SQL string as a simple query, outside pipeline mode: the only way a
// statement such as CREATE INDEX CONCURRENTLY can run outside a transaction
// block, and a way to run several statements as one transaction (hooks).
// Throws the server's error like Connection::exec.
Result simple_query(Session &session, const std::string &sql);

// Parameters sent with no value: BEGIN, COMMIT, hook statements.
const Params &no_params();

// What a run works on.
struct RunTarget {
    std::string scope;        // master or a tenant schema
    MigrationKind kind = MigrationKind::migration;
    std::string environment;  // seeds; "" for migrations
    std::filesystem::path dir;  // the migrations directory (for names in messages)
    const MigrationHooks *hooks = nullptr;
    // before_each / after_each split into statements by the server once per run.
    std::vector<std::string> before_each;
    std::vector<std::string> after_each;

    std::string kind_name() const { return std::string(to_string(kind)); }
    // "master/3 (create_users)" or "seed master/development/1 (tenants)".
    std::string label(std::int64_t version, const std::string &name) const;
    // A file name as the user sees it: <dir>/<relative>.
    std::string shown(const std::string &relative) const;
};

// One migration's transaction (or non-transactional sequence) in a run.
struct Step {
    enum class Action : std::uint8_t { apply, rollback, redo };
    Action action = Action::apply;
    std::int64_t version = 0;
    std::string name;
    const MigrationFile *file = nullptr;  // apply and redo: the file; rollback: when on disk
    bool repair = false;
    bool transactional = true;
    milliseconds lock_timeout{5000};
    std::optional<milliseconds> statement_timeout;
    // A concurrent index build's timeouts: only what the header declares
    // (none: it waits for older snapshots instead of failing half-built).
    std::optional<milliseconds> build_lock_timeout;
    std::optional<milliseconds> build_statement_timeout;
    std::string metadata;  // apply and redo: JSON recorded with the ledger row
};

// Builds the steps' common parts from a file and the options.
Step apply_step(const RunTarget &target, const MigratorOptions &options, const MigrationFile &file,
                bool repair);
std::string interval_text(milliseconds duration);
// Array literals for parameters: {1,2,3} and {abc,def} (hex checksums need no quotes).
std::string array_text(const std::vector<std::int64_t> &values);
std::string array_text(const std::vector<std::string> &values);

// Runs `body` and hands back the server error it threw, to turn into a
// MigrationError or act on; a lost connection propagates as it is (nothing
// about the step can be said or retried on it).
template <class F>
std::optional<Error> server_error(F &&body)
{
    try {
        body();
    } catch (const ConnectionLost &) {
        throw;
    } catch (const Error &error) {
        return error;
    }
    return std::nullopt;
}

// A concurrent build's first round trip (its settings, the INVALID indexes
// of its table), queued ahead of time: a step that is one build sends it with
// its check, and the build then starts at once.
class BuildPreparation {
public:
    BuildPreparation(const Step &step, detail::ConcurrentBuild build);
    // Queues the statements (the object must live until the sync).
    void queue(Connection &conn) const;
    // Takes the results of the queued statements, starting at `first`.
    void take(std::vector<Result> &results, std::size_t first);
    // Whether `build` is the one prepared (and its results were taken).
    bool prepares(const detail::ConcurrentBuild &build) const noexcept;
    const std::optional<Result> &invalid_before() const noexcept { return invalid_before_; }

private:
    detail::ConcurrentBuild build_;
    Params settings_;
    Params relation_;
    bool taken_ = false;
    std::optional<Result> invalid_before_;
};

// The concurrent build a step's file consists of, if it is exactly one
// statement that is one (read from the file; the server's split confirms it).
std::optional<detail::ConcurrentBuild> single_build_of(const Step &step);

// Runs one statement of a non-transactional step as a simple query and hands
// back the server's error, if any. A concurrent index build gets the care
// of migrator_index_builds.cpp (`prepared`: its first round trip, when the
// step's check carried it); `step_settings` (lock_timeout,
// statement_timeout) are the step's, restored after such a build.
std::optional<Error> run_nontransactional_statement(Session &session, const Step &step,
                                                    const std::string &sql,
                                                    const Params &step_settings,
                                                    const BuildPreparation *prepared = nullptr);

// Why a statement failed, for the retry decision.
enum class Transient : std::uint8_t {
    no,
    lock_timeout,  // 55P03 waiting for a lock: the application holds it
    busy,          // 55P03: another migrator runs a non-transactional migration of the scope
    rollback,      // 40001 / 40P01
};
Transient classify(const Error &error);

// Attempts and waiting time of one step; says how long to sleep before the
// next attempt, or nullopt when the limits are reached.
class RetryBudget {
public:
    explicit RetryBudget(const MigratorOptions &options);
    std::optional<milliseconds> next_delay(Transient why);
    int attempts() const noexcept { return attempts_; }

private:
    const MigratorOptions &options_;
    int attempts_ = 1;        // including the first
    int busy_rounds_ = 0;
    SteadyClock::time_point started_;
};

// The MigrationError for a server error met while running `step`.
// The first parameters of check_migration, apply_migration and
// record_migration: scope, version, name, up SQL, down SQL, dependencies,
// kind, environment (a seed's; NULL for a migration).
void add_migration_params(Params &params, const RunTarget &target, const Step &step);
// The environment alone, ending a ledger key.
void add_environment(Params &params, const RunTarget &target);

[[noreturn]] void raise_step_error(const RunTarget &target, const Step &step, const Error &error,
                                   std::string phase, RunResult partial, int attempts = 1);
// The reason a SQLSTATE stands for.
MigrationErrorReason reason_of(const std::string &sqlstate);
// A MigrationError not about one step (planning, a run hook, a refusal).
[[noreturn]] void raise_run_error(MigrationErrorReason reason, const RunTarget &target,
                                  std::string sqlstate, std::string message, std::string hint,
                                  RunResult partial, std::int64_t version = -1,
                                  std::string name = "", std::string file = "");

// The outcome record of a step.
MigrationOutcome outcome_of(const RunTarget &target, const Step &step, std::string action,
                            microseconds duration, int attempts);

// A run on one session: the hooks split, the run-level hooks, and the
// pipelined transactional batches (migrator_batch.cpp) and non-transactional
// sequences (migrator_nontx.cpp).
class Runner {
public:
    Runner(Migrator::Impl &impl, Session &session, RunTarget &target, RunResult &result);

    // Splits before_each/after_each once (one round trip, only when present).
    void prepare_hooks();
    // before_all / after_all as one transaction each (simple query).
    void run_hook(const std::optional<HookFile> &hook);

    // Runs the steps in order: transactional ones batched, the others one by one.
    void run(std::span<const Step> steps);

    // Queue the statements of one step on the session's connection (their
    // parameters go to `params`, which must live until the sync).
    void send_prelude(const Step &step, std::deque<Params> &params);
    void send_apply(const Step &step, std::deque<Params> &params);
    void send_rollback(const Step &step, std::deque<Params> &params);
    // The step's metadata with this run's id.
    std::string metadata_for(const Step &step) const;
    // The (action, microseconds) row of an apply or rollback statement.
    static std::pair<std::string, microseconds> main_outcome(const Result &result);

    Migrator::Impl &impl;
    Session &session;
    RunTarget &target;
    RunResult &result;

private:
    // Sends steps[begin, end) pipelined; returns how many completed and the
    // error that stopped the rest, if any.
    struct BatchEnd {
        std::size_t completed = 0;
        std::optional<Error> error;
        std::string failed_phase;
    };
    BatchEnd send_batch(std::span<const Step> steps);
    void run_transactional(std::span<const Step> steps);
    void run_nontransactional(const Step &step);
    // One non-transactional apply or rollback by the protocol: the scope's
    // lock, check and split (one round trip), before_each, each statement
    // as a simple query, then the actor, after_each, the ledger record and
    // the release (one round trip). A transient failure of a statement
    // runs it all again after a backoff, within the budget.
    void run_nontransactional_step(const Step &step, RetryBudget &budget);
    // For an error in a batch: which steps committed, from the ledger.
    std::size_t completed_in_ledger(std::span<const Step> steps,
                                    std::vector<MigrationOutcome> &done);
    void record(MigrationOutcome outcome);
    std::string phase_of(const Error &error) const;

    std::string prelude_sql_;
    // Recorded in the metadata of every ledger row this run writes, so that
    // after a failed batch the rows this run committed are told apart from
    // rows another migrator committed meanwhile.
    std::string run_id_;
};

// The metadata recorded with a migration (file names, hooks, header).
std::string metadata_of(const RunTarget &target, const MigrationFile &file);

}  // namespace migrator
}  // namespace stratum
