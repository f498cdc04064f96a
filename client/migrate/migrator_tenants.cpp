// Schema-per-tenant: registering tenants, listing who is behind, and
// migrating every tenant schema with N workers that claim tenants from the
// ledger's queue (FOR UPDATE SKIP LOCKED inside the transaction that
// migrates them). Each tenant costs one round trip: its migrations, the
// queue update, COMMIT, and the next claim travel together.
#include <algorithm>
#include <exception>
#include <map>
#include <thread>

#include "migrator_plan.hpp"
#include "stratum/ledger_sql.hpp"

namespace stratum {

using namespace migrator;

namespace {

constexpr const char *savepoint_sql = "SAVEPOINT stratum_tenant_migration";
constexpr const char *rollback_to_savepoint_sql = "ROLLBACK TO SAVEPOINT stratum_tenant_migration";

struct Claim {
    std::string scope;
    std::string tenant;
    std::vector<std::int64_t> versions;
};

std::optional<Claim> claim_of(const Result &result)
{
    if (result.empty())
        return std::nullopt;
    Row row = result[0];
    return Claim{row[0].as<std::string>(), row[1].as<std::string>(),
                 row[3].as<std::vector<std::int64_t>>()};
}

std::vector<TenantInfo> tenant_rows(Session &session, const std::vector<std::int64_t> &versions,
                                    bool behind_only)
{
    Result rows = session.conn().exec(ledger_sql::list_tenants, versions, behind_only);
    std::vector<TenantInfo> out;
    for (const Row &row : rows) {
        TenantInfo info;
        info.id = row[0].as<std::string>();
        info.slug = row[1].as<std::string>();
        info.name = row[2].as<std::string>();
        info.status = row[3].as<std::string>();
        info.schema_name = row[4].as<std::string>();
        info.latest_version = row[5].as<std::optional<std::int64_t>>();
        info.missing_versions = row[6].as<std::vector<std::int64_t>>();
        out.push_back(std::move(info));
    }
    return out;
}

// What the workers share.
struct TenantRun {
    Migrator::Impl &impl;
    const LoadedRun &run;
    const RunTarget &base;  // hooks split once; scope set per tenant
    std::mutex mutex;
    std::vector<TenantOutcome> outcomes;
    std::exception_ptr fatal;  // a worker lost its connection

    void add(TenantOutcome outcome)
    {
        std::lock_guard lock(mutex);
        outcomes.push_back(std::move(outcome));
    }
};

class TenantWorker {
public:
    TenantWorker(TenantRun &shared, int number) : shared_(shared), number_(number), session_(shared.impl) {}

    void run()
    {
        std::optional<Claim> claim = begin_and_claim();
        while (claim)
            claim = migrate(*claim);
    }

private:
    std::optional<Claim> begin_and_claim()
    {
        Connection &conn = session_.conn();
        conn.send_internal("BEGIN", no_params());
        conn.send(ledger_sql::claim_tenant, no_params());
        std::vector<Result> results = conn.sync();
        std::optional<Claim> claim = claim_of(results[1]);
        if (!claim)
            conn.exec("COMMIT");
        return claim;
    }

    // Migrates the claimed tenant; returns the next claim. Its migrations run
    // after a savepoint, so that a failure is rolled back to it and recorded
    // while the claim (a row lock taken before it) is still held: no other
    // worker can take the tenant in between.
    std::optional<Claim> migrate(const Claim &claim)
    {
        auto started = SteadyClock::now();
        Connection &conn = session_.conn();
        RunTarget target = shared_.base;
        target.scope = claim.scope;
        RunResult scratch;
        Runner runner(shared_.impl, session_, target, scratch);

        std::vector<Step> steps;
        for (std::int64_t version : claim.versions) {
            const MigrationFile *file = shared_.run.set.find(version);
            if (file == nullptr)
                return fail(claim, started,
                            Error("22023", "version " + std::to_string(version) +
                                               " is queued for " + claim.scope +
                                               " but has no file in tenants/"));
            steps.push_back(apply_step(target, shared_.impl.options, *file, false));
        }
        std::deque<Params> params;
        std::vector<std::size_t> applies;
        std::size_t sent = 0;
        conn.send_internal(savepoint_sql, no_params());
        sent++;
        for (const Step &step : steps) {
            runner.send_prelude(step, params);
            sent++;
            for (const auto &statement : target.before_each) {
                conn.send(statement, no_params());
                sent++;
            }
            runner.send_apply(step, params);
            applies.push_back(sent++);
            for (const auto &statement : target.after_each) {
                conn.send(statement, no_params());
                sent++;
            }
        }
        Params &scope = params.emplace_back(claim.scope);
        conn.send(ledger_sql::finish_tenant, scope);
        conn.send_internal("COMMIT", no_params());
        conn.send_internal("BEGIN", no_params());
        conn.send(ledger_sql::claim_tenant, no_params());

        std::vector<Result> results;
        if (std::optional<Error> error = server_error([&] { results = conn.sync(); }))
            return after_failure(claim, started, *error);
        std::vector<MigrationOutcome> outcomes;
        for (std::size_t i = 0; i < steps.size(); i++) {
            auto [action, duration] = Runner::main_outcome(results[applies[i]]);
            outcomes.push_back(outcome_of(target, steps[i], action, duration, 1));
        }
        done(claim, started, std::move(outcomes));
        return claimed(results.back());
    }

    std::optional<Claim> after_failure(const Claim &claim, SteadyClock::time_point started,
                                       const Error &error)
    {
        Connection &conn = session_.conn();
        if (error.statement() == ledger_sql::claim_tenant || error.statement() == "BEGIN") {
            // After the COMMIT: the tenant is done, only the next claim failed.
            if (conn.in_transaction())
                conn.exec("ROLLBACK");
            done(claim, started, {});
            return begin_and_claim();
        }
        if (!conn.in_transaction()) {
            // The COMMIT itself failed: the claim is gone with the transaction.
            return fail(claim, started, error);
        }
        conn.exec(rollback_to_savepoint_sql);
        Transient why = classify(error);
        RetryBudget &budget = budgets_.try_emplace(claim.scope, shared_.impl.options).first->second;
        if (why != Transient::no) {
            if (auto delay = budget.next_delay(why)) {
                shared_.impl.emit({.type = MigrationEvent::Type::retrying, .scope = claim.scope,
                                   .message = error.message(), .attempt = budget.attempts(),
                                   .delay = *delay});
                std::this_thread::sleep_for(*delay);
                return claim;  // still ours: try again
            }
        }
        return fail(claim, started, error);
    }

    // The next claim from a result; ends the transaction when there is none.
    std::optional<Claim> claimed(const Result &result)
    {
        std::optional<Claim> next = claim_of(result);
        if (!next)
            session_.conn().exec("COMMIT");
        return next;
    }

    void done(const Claim &claim, SteadyClock::time_point started, std::vector<MigrationOutcome> outcomes)
    {
        TenantOutcome outcome;
        outcome.scope = claim.scope;
        outcome.tenant_id = claim.tenant;
        outcome.state = "migrated";
        outcome.migrations = std::move(outcomes);
        outcome.attempts = attempts_of(claim.scope);
        outcome.worker = number_;
        outcome.duration = std::chrono::duration_cast<microseconds>(SteadyClock::now() - started);
        shared_.impl.emit({.type = MigrationEvent::Type::tenant_done, .scope = claim.scope,
                           .message = std::to_string(outcome.migrations.size()) + " migrations",
                           .duration = outcome.duration});
        shared_.add(std::move(outcome));
    }

    // Records the failure (in the claiming transaction when it is still
    // open), and claims the next tenant in the same round trip.
    std::optional<Claim> fail(const Claim &claim, SteadyClock::time_point started, const Error &error)
    {
        Connection &conn = session_.conn();
        Params failure(claim.scope, error.message());
        conn.send(ledger_sql::fail_tenant, failure);
        if (conn.in_transaction())
            conn.send_internal("COMMIT", no_params());
        conn.send_internal("BEGIN", no_params());
        conn.send(ledger_sql::claim_tenant, no_params());
        std::vector<Result> results = conn.sync();
        TenantOutcome outcome;
        outcome.scope = claim.scope;
        outcome.tenant_id = claim.tenant;
        outcome.state = "failed";
        outcome.error = error.message();
        outcome.sqlstate = error.sqlstate();
        outcome.attempts = attempts_of(claim.scope);
        outcome.worker = number_;
        outcome.duration = std::chrono::duration_cast<microseconds>(SteadyClock::now() - started);
        shared_.impl.emit({.type = MigrationEvent::Type::tenant_failed, .scope = claim.scope,
                           .message = error.message(), .duration = outcome.duration});
        shared_.add(std::move(outcome));
        return claimed(results.back());
    }

    int attempts_of(const std::string &scope) const
    {
        auto it = budgets_.find(scope);
        return it == budgets_.end() ? 1 : it->second.attempts();
    }

    TenantRun &shared_;
    int number_;
    Session session_;
    std::map<std::string, RetryBudget> budgets_;  // transient failures per tenant schema
};

}  // namespace

TenantInfo Migrator::create_tenant(const std::string &slug, const std::string &name,
                                   bool with_schema)
{
    std::string schema;
    {
        Session session(*impl_);
        Connection &conn = session.conn();
        Params tenant(slug, name);
        Params by_slug(slug);
        conn.send_internal("BEGIN", no_params());
        conn.send(ledger_sql::create_tenant, tenant);
        if (with_schema)
            conn.send(ledger_sql::create_tenant_schema, by_slug);
        conn.send_internal("COMMIT", no_params());
        std::vector<Result> results;
        try {
            results = conn.sync();
        } catch (...) {
            if (conn.in_transaction())
                conn.exec("ROLLBACK");
            throw;
        }
        if (with_schema)
            schema = results[2].value<std::string>();
    }
    if (with_schema) {
        MigratorOptions options = impl_->options;
        options.scope = schema;
        Migrator tenant_migrator = impl_->pool != nullptr ? Migrator(*impl_->pool, options)
                                                          : Migrator(impl_->conninfo, options);
        tenant_migrator.up();
    }
    for (TenantInfo &info : list_tenants()) {
        if (info.slug == slug)
            return info;
    }
    throw UnexpectedResult("tenant " + slug + " was created but is not listed");
}

std::vector<TenantInfo> Migrator::list_tenants()
{
    MigratorOptions options = impl_->options;
    options.scope = "tenant";
    LoadedRun run;
    std::vector<std::string> warnings;
    load_run(options, MigrationKind::migration, "", run, &warnings);
    Session session(*impl_);
    return tenant_rows(session, run.set.versions(), false);
}

std::vector<TenantInfo> Migrator::tenants_behind()
{
    MigratorOptions options = impl_->options;
    options.scope = "tenant";
    LoadedRun run;
    load_run(options, MigrationKind::migration, "", run);
    Session session(*impl_);
    return tenant_rows(session, run.set.versions(), true);
}

TenantRunResult Migrator::migrate_tenants()
{
    MigratorOptions options = impl_->options;
    options.scope = "tenant";
    if (options.jobs < 1 || options.jobs > 256)
        throw ValidationError("jobs", "must be between 1 and 256");
    LoadedRun run;
    load_run(options, MigrationKind::migration, "", run);
    std::vector<std::string> non_transactional;
    for (const MigrationFile &file : run.set.files) {
        if (!file.header.transactional)
            non_transactional.push_back(run.target.shown(file.file));
    }
    if (!non_transactional.empty()) {
        std::string list;
        for (const auto &file : non_transactional)
            list += "\n  " + file;
        raise_run_error(MigrationErrorReason::invalid, run.target, "25001",
                        "tenant migrations run in one transaction per tenant and cannot be "
                        "non-transactional:" + list,
                        "Make them transactional, or apply them one schema at a time with "
                        "stratum migrate up --scope <schema>.",
                        {});
    }

    auto started = SteadyClock::now();
    TenantRunResult result;
    result.versions = run.set.versions();
    result.jobs = options.jobs;
    Session session(*impl_);
    Connection &conn = session.conn();
    Params versions(result.versions);
    if (!result.versions.empty())
        conn.send(ledger_sql::queue_tenant_migrations, versions);
    conn.send(ledger_sql::count_tenant_schemas, no_params());
    std::vector<Result> counts = conn.sync();
    result.tenants_total = counts.back().value<std::size_t>();
    result.queued = result.versions.empty() ? 0 : counts.front().value<std::size_t>();
    if (result.queued == 0) {
        result.duration = std::chrono::duration_cast<microseconds>(SteadyClock::now() - started);
        return result;
    }

    RunResult hooks_result;
    hooks_result.operation = "tenant migrate";
    Runner runner(*impl_, session, run.target, hooks_result);
    runner.prepare_hooks();
    runner.run_hook(run.hooks.before_all);

    TenantRun shared{*impl_, run, run.target, {}, {}, {}};
    int workers = static_cast<int>(std::min<std::size_t>(options.jobs, result.queued));
    std::vector<std::thread> threads;
    for (int i = 0; i < workers; i++) {
        threads.emplace_back([&shared, i] {
            try {
                TenantWorker(shared, i + 1).run();
            } catch (...) {
                std::lock_guard lock(shared.mutex);
                if (!shared.fatal)
                    shared.fatal = std::current_exception();
            }
        });
    }
    for (auto &thread : threads)
        thread.join();
    if (shared.fatal)
        std::rethrow_exception(shared.fatal);

    result.tenants = std::move(shared.outcomes);
    std::sort(result.tenants.begin(), result.tenants.end(),
              [](const TenantOutcome &a, const TenantOutcome &b) { return a.scope < b.scope; });
    if (result.ok())
        runner.run_hook(run.hooks.after_all);
    result.duration = std::chrono::duration_cast<microseconds>(SteadyClock::now() - started);
    return result;
}

}  // namespace stratum
