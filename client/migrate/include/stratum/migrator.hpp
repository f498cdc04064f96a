// stratum::Migrator: applies, rolls back, verifies and reports the migrations
// of a directory (migrations/master, migrations/tenants, migrations/seeds/<env>)
// against the ledger the extension keeps. The extension does the work that
// must be atomic (apply + ledger row under an advisory lock); the migrator
// reads files, plans in one round trip and pipelines the calls.
// docs/migrations.md is the reference (file format, hooks, exit codes).
//
// Every operation opens (or borrows) its own connections, so operations may
// run concurrently from several threads; each returns a plain result struct
// with to_json(). Failures throw MigrationError (or MigrationFileError for
// unusable files, ConnectionLost/CannotConnect when the server is gone).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "stratum/errors.hpp"
#include "stratum/migration_files.hpp"

namespace stratum {

class Pool;
struct Config;

// Something the migrator is doing, for progress output and logs. Delivered
// one at a time (calls are serialized), possibly from tenant worker threads.
struct MigrationEvent {
    enum class Type : std::uint8_t {
        applied,      // a migration or seed was applied (or repaired)
        skipped,      // already applied (by another migrator, for instance)
        rolled_back,
        retrying,     // a lock timeout or deadlock: retried after `delay`; `message` names the blocker
        waiting,      // another migrator holds the scope (a non-transactional migration runs)
        failed,
        hook,         // a before_all/after_all hook ran
        tenant_done,  // tenant migrate: one tenant schema migrated (or already up to date)
        tenant_failed,
    };
    Type type;
    std::string scope;
    std::int64_t version = -1;  // -1 when not about one migration
    std::string name;
    std::string message;
    int attempt = 0;
    std::chrono::milliseconds delay{0};
    std::chrono::microseconds duration{0};
};

std::string_view to_string(MigrationEvent::Type type) noexcept;

struct MigratorOptions {
    // The migrations directory (master/, tenants/, seeds/<environment>/, hooks/).
    std::filesystem::path dir = "migrations";
    // "master" (files in master/), or a tenant schema (files in tenants/,
    // applied in that schema).
    std::string scope = "master";
    // Seeds: the environment whose seeds/<environment>/ seed() applies.
    std::string environment = "development";
    // lock_timeout of every migration statement: a waiting ALTER TABLE gives
    // up after this, so the application's queries queued behind it resume.
    // A migration header's `lock-timeout` overrides it.
    std::chrono::milliseconds lock_timeout{5000};
    // statement_timeout of each migration (SET LOCAL); 0 keeps the server's.
    // A header's `statement-timeout` overrides it.
    std::chrono::milliseconds statement_timeout{0};
    // A migration that times out waiting for a lock (55P03), deadlocks or
    // hits a serialization failure is retried with exponential backoff and
    // full jitter, at most max_attempts times and for at most lock_wait_limit
    // in all (the configuration's migrations.lock_timeout).
    int max_attempts = 10;
    std::chrono::milliseconds lock_wait_limit{30000};
    std::chrono::milliseconds retry_backoff_min{100};
    std::chrono::milliseconds retry_backoff_max{5000};
    // How long to wait while another migrator runs a non-transactional
    // migration of the same scope (CREATE INDEX CONCURRENTLY can take long).
    std::chrono::milliseconds migrator_wait_limit = std::chrono::minutes(30);
    // Record changed (drifted) files as they are now instead of refusing.
    bool repair = false;
    // Plan and check with the server (stratum.check_migration), change nothing.
    bool dry_run = false;
    // Apply files older than the newest applied version instead of refusing.
    bool allow_out_of_order = false;
    // Tenant migrate: workers, each with its own connection.
    int jobs = 4;
    // Hooks: "" = <dir>/hooks.
    std::filesystem::path hooks_dir;
    // Recorded as stratum.actor with every ledger row and audit entry.
    std::string actor = "stratum-migrate";
    // Transactional migrations sent per round trip (each its own transaction).
    std::size_t batch_size = 100;
    // Progress; see MigrationEvent.
    std::function<void(const MigrationEvent &)> on_event;
};

// Options from the configuration: dir from migrations.dir, lock_wait_limit
// from migrations.lock_timeout (how long lock timeouts are retried in all);
// the rest as the defaults above. Part of stratum-service, which defines
// Config (declared here so that code written against this header keeps
// building; link stratum::service to call it).
MigratorOptions migrator_options(const Config &config);

// What happened to one migration in a run.
struct MigrationOutcome {
    std::string scope;
    std::string kind = "migration";  // or "seed"
    std::string environment;         // seeds
    std::int64_t version = 0;
    std::string name;
    std::string file;    // relative to the migrations dir; "" when run from the ledger alone
    // applied, skipped, repaired, rolled_back; dry run: pending, repair,
    // rollback (what would happen).
    std::string action;
    bool transactional = true;
    std::chrono::microseconds duration{0};  // the server's time running its statements
    int attempts = 1;
};

// The result of up, down, redo and seed.
struct RunResult {
    std::string operation;  // up, down, redo, seed
    std::string scope;
    std::string kind = "migration";
    std::string environment;
    bool dry_run = false;
    std::vector<MigrationOutcome> migrations;  // in the order they ran
    std::vector<std::string> warnings;         // missing / unknown migrations, ...
    std::vector<std::string> hooks;            // run-level hooks that ran
    std::chrono::microseconds duration{0};
    std::uint64_t round_trips = 0;

    // Nothing was applied, repaired or rolled back (and, dry run, nothing would be).
    bool nothing_to_do() const noexcept;
    std::size_t count(std::string_view action) const noexcept;
    std::string to_json(int indent = -1) const;
};

// Where a failure happened.
struct MigrationFailure {
    std::string scope;
    std::string kind = "migration";
    std::string environment;
    std::int64_t version = -1;  // -1: not one migration (planning, a run hook)
    std::string name;
    std::string file;
    std::string phase;   // plan, apply, rollback, hook:<name>, lock
    int statement = 0;   // statement number in the file, when known
    int line = 0;        // its line, when known
};

enum class MigrationErrorReason : std::uint8_t {
    failed,         // a statement (or a hook) failed; nothing of that migration was kept
    drift,          // an applied file changed (SM001): --repair records it
    tampered,       // the ledger was edited outside stratum (SM003)
    dependency,     // a declared dependency is not applied and not about to be (SM002)
    out_of_order,   // unapplied files older than the newest applied version
    irreversible,   // no down SQL (SM005)
    not_in_ledger,  // SM004, or down --to a version never applied
    lock_timeout,   // still blocked after every retry (55P03)
    busy,           // another migrator held the scope for longer than migrator_wait_limit
    invalid,        // a request that cannot be carried out (redo with nothing applied, ...)
};

std::string_view to_string(MigrationErrorReason reason) noexcept;

// A migration run that stopped. what() names the migration, its file and the
// server's message; sqlstate() and the other fields are the server's. What
// was done before the failure stays done and is in partial().
class MigrationError : public Error {
public:
    MigrationError(MigrationErrorReason reason, ErrorFields fields, MigrationFailure failure,
                   RunResult partial = {});
    MigrationErrorReason reason() const noexcept { return reason_; }
    const MigrationFailure &failure() const noexcept { return *failure_; }
    const RunResult &partial() const noexcept { return *partial_; }
    // Drift or a tampered ledger (the command exits 3).
    bool is_drift() const noexcept
    {
        return reason_ == MigrationErrorReason::drift || reason_ == MigrationErrorReason::tampered;
    }
    std::string to_json(int indent = -1) const;

private:
    MigrationErrorReason reason_;
    std::shared_ptr<const MigrationFailure> failure_;  // shared: exceptions are copied
    std::shared_ptr<const RunResult> partial_;
};

// One version as files and ledger see it.
struct StatusEntry {
    std::int64_t version = 0;
    std::string name;
    // applied, pending, out_of_order, drifted, missing (applied, file gone),
    // unknown (applied, newer than every file).
    std::string state;
    std::string file;             // "" when the file is gone
    std::string file_checksum;    // "" when the file is gone
    std::string ledger_checksum;  // "" when not applied
    std::string applied_at;       // ISO 8601, "" when not applied
    std::string applied_by;
    double duration_ms = 0;       // how long applying took
    bool transactional = true;
    bool reversible = true;       // has down SQL (ledger when applied, else a down file)
    std::vector<std::int64_t> depends_on;
};

// A migrator waiting for a lock right now, and who blocks it (stratum.migration_waits()).
struct MigrationWait {
    int pid = 0;
    std::string scope;
    std::string waiting_for;
    std::string waiting_since;
    int blocked_by = 0;
    std::string blocker_user;
    std::string blocker_application;
    std::string blocker_state;
    std::string blocker_xact_start;
    std::string blocker_query;
};

struct StatusReport {
    std::string scope;
    std::string kind = "migration";
    std::string environment;
    std::vector<StatusEntry> entries;  // by version
    std::vector<MigrationWait> waits;  // every scope's

    std::size_t count(std::string_view state) const noexcept;
    // Nothing for `up` to do: no pending, out_of_order or drifted entry.
    bool up_to_date() const noexcept;
    bool has_drift() const noexcept { return count("drifted") > 0; }
    std::string to_json(int indent = -1) const;
};

// A row of stratum.verify_ledger(): the ledger disagrees with itself or its log.
struct LedgerProblem {
    std::string scope;
    std::string kind;
    std::string environment;
    std::int64_t version = 0;
    std::string problem;  // up_sql_changed, down_sql_changed, disagrees_with_log, row_deleted, dependency_not_applied
    std::string detail;
};

struct VerifyReport {
    std::vector<LedgerProblem> ledger;  // every scope
    // Files against the ledger (master and every tenant schema): entries in
    // any state but applied and pending.
    struct FileMismatch {
        std::string scope;
        StatusEntry entry;
    };
    std::vector<FileMismatch> files;
    // INVALID indexes in the database (a failed or cancelled concurrent
    // build left them; PostgreSQL maintains them on every write and never
    // uses them), except those being built right now.
    struct InvalidIndex {
        std::string schema;
        std::string name;
        std::string table;
    };
    std::vector<InvalidIndex> invalid_indexes;
    std::size_t scopes_checked = 0;

    bool ok() const noexcept { return ledger.empty() && files.empty() && invalid_indexes.empty(); }
    std::string to_json(int indent = -1) const;
};

// Another migration tool whose ledger Migrator::import_ledger reads.
enum class LedgerSource : std::uint8_t {
    golang_migrate,  // schema_migrations(version bigint, dirty boolean): one row, the current version
    flyway,          // flyway_schema_history: a row per migration run, success flag, BASELINE rows
    sqitch,          // sqitch.changes: a row per deployed change, by name
};

// "golang-migrate", "flyway", "sqitch".
std::string_view to_string(LedgerSource source) noexcept;
std::optional<LedgerSource> ledger_source_named(std::string_view name) noexcept;

struct ImportOptions {
    LedgerSource from = LedgerSource::golang_migrate;
    // The tool's ledger table; "" = its default: public.schema_migrations,
    // public.flyway_schema_history, sqitch.changes.
    std::string table;
    // sqitch: only this project's changes ("" = every project in the table).
    std::string project;
};

struct TenantInfo {
    std::string id;
    std::string slug;
    std::string name;
    std::string status;
    std::string schema_name;  // "" without a schema of its own
    std::optional<std::int64_t> latest_version;   // newest tenant migration applied
    std::vector<std::int64_t> missing_versions;   // tenant migrations on disk not applied
    std::string to_json(int indent = -1) const;
};

struct TenantOutcome {
    std::string scope;  // the tenant schema
    std::string tenant_id;
    std::string state;  // migrated, failed
    std::vector<MigrationOutcome> migrations;
    std::string error;
    std::string sqlstate;
    int attempts = 0;
    int worker = 0;
    std::chrono::microseconds duration{0};
};

struct TenantRunResult {
    std::vector<std::int64_t> versions;  // the tenant migrations on disk
    int jobs = 0;
    std::size_t tenants_total = 0;       // tenant schemas
    std::size_t queued = 0;              // behind when the run started
    std::vector<TenantOutcome> tenants;  // those this run worked on
    std::chrono::microseconds duration{0};

    std::size_t count(std::string_view state) const noexcept;
    bool ok() const noexcept { return count("failed") == 0; }
    bool nothing_to_do() const noexcept { return queued == 0; }
    std::string to_json(int indent = -1) const;
};

class Migrator {
public:
    // Opens its own direct connections (one per operation, one per tenant
    // worker). Needed for non-transactional migrations, whose session lock
    // must stay on one server connection: not through PgBouncer
    // transaction pooling.
    explicit Migrator(std::string conninfo, MigratorOptions options = {});
    // Borrows connections from `pool` (which must outlive the migrator).
    explicit Migrator(Pool &pool, MigratorOptions options = {});
    ~Migrator();
    Migrator(Migrator &&) noexcept;
    Migrator &operator=(Migrator &&) noexcept;

    // Applies pending migrations of the scope, in version order, up to and
    // including `to`. Refuses (before running anything) on drift unless
    // repair, on out-of-order files unless allow_out_of_order, and on
    // dependencies that are not met.
    RunResult up(std::optional<std::int64_t> to = std::nullopt);
    // Rolls back the `steps` newest applied migrations, newest first, with
    // the down SQL stored in the ledger (files may be gone).
    RunResult down(int steps = 1);
    // Rolls back every applied migration newer than `version`.
    RunResult down_to(std::int64_t version);
    // Rolls back the newest applied migration and applies its file again,
    // in one transaction.
    RunResult redo();
    StatusReport status();
    // The ledger against itself (stratum.verify_ledger) and the files
    // against the ledger, for master and every tenant schema.
    VerifyReport verify();
    // Adopting stratum where another tool applied the migrations: records in
    // the ledger of master, without running them, the files of master/ that
    // the tool's ledger says are applied (golang-migrate: every version up to
    // its current one; Flyway: its successful versioned rows and baseline;
    // sqitch: the files named like its deployed changes), with their
    // checksums and down SQL, all in one transaction. Refuses a dirty ledger
    // (a failed migration the tool left half-done), and applied entries
    // without a file. Already recorded ones are skipped; `up` then applies
    // only the rest. Outcomes say "imported" or "skipped".
    RunResult import_ledger(const ImportOptions &options);
    // Applies seeds/<environment>/ (default: options().environment).
    RunResult seed(std::optional<std::string> environment = std::nullopt);

    // Registers a tenant; with_schema also makes its schema and applies the
    // tenant migrations there.
    TenantInfo create_tenant(const std::string &slug, const std::string &name, bool with_schema);
    std::vector<TenantInfo> list_tenants();
    // Tenant schemas lacking one of the tenant migrations on disk (one query).
    std::vector<TenantInfo> tenants_behind();
    // Applies migrations/tenants/ to every tenant schema with options().jobs
    // workers claiming tenants from the ledger's queue; resumes where a
    // previous run stopped. A failed tenant does not stop the others.
    TenantRunResult migrate_tenants();

    const MigratorOptions &options() const noexcept;
    // Change between operations, not during one.
    MigratorOptions &options() noexcept;

    struct Impl;

private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace stratum
