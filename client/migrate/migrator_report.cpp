// Reading without changing: status (files against the ledger, and who waits
// for what right now) and verify (the ledger against itself and its log, and
// the files against the ledger of every scope, and INVALID indexes). One
// round trip each.
#include <map>

#include "migrator_plan.hpp"
#include "stratum/invalid_index_sql.hpp"
#include "stratum/ledger_sql.hpp"

namespace stratum {

using namespace migrator;

namespace {

StatusEntry entry_of(const Row &row, int first, const MigrationSet &set, const RunTarget &target)
{
    StatusEntry entry;
    entry.version = row[first].as<std::int64_t>();
    entry.state = row[first + 1].as<std::string>();
    entry.name = row[first + 2].as<std::string>();
    entry.file_checksum = row[first + 3].as<std::string>();
    entry.ledger_checksum = row[first + 4].as<std::string>();
    if (const MigrationFile *file = set.find(entry.version)) {
        entry.name = file->name;
        entry.file = target.shown(file->file);
        entry.transactional = file->header.transactional;
        entry.reversible = file->down_sql.has_value();
        entry.depends_on = file->header.depends_on;
    }
    return entry;
}

}  // namespace

StatusReport Migrator::status()
{
    const MigratorOptions &options = impl_->options;
    LoadedRun run;
    load_run(options, MigrationKind::migration, "", run);
    Session session(*impl_);
    Connection &conn = session.conn();
    const RunTarget &target = run.target;
    Params plan(target.scope, array_text(run.set.versions()), array_text(run.set.checksums()),
                target.kind_name());
    plan.add_null();
    Params ledger(target.scope, target.kind_name(), target.environment);
    conn.send(ledger_sql::plan, plan);
    conn.send(ledger_sql::status, ledger);
    conn.send(ledger_sql::waits, no_params());
    std::vector<Result> results = conn.sync();

    StatusReport report;
    report.scope = target.scope;
    report.kind = target.kind_name();
    report.environment = target.environment;
    std::map<std::int64_t, std::size_t> by_version;
    for (const Row &row : results[0]) {
        report.entries.push_back(entry_of(row, 0, run.set, target));
        by_version[report.entries.back().version] = report.entries.size() - 1;
    }
    for (const Row &row : results[1]) {
        auto it = by_version.find(row[0].as<std::int64_t>());
        if (it == by_version.end())
            continue;
        StatusEntry &entry = report.entries[it->second];
        entry.transactional = row[1].as<bool>();
        entry.depends_on = row[2].as<std::vector<std::int64_t>>();
        entry.reversible = row[3].as<bool>();
        entry.applied_by = row[4].as<std::string>();
        entry.applied_at = row[5].as<std::string>();
        entry.duration_ms = row[6].as<double>();
    }
    for (const Row &row : results[2]) {
        report.waits.push_back({row[0].as<int>(), row[1].as<std::string>(), row[2].as<std::string>(),
                                row[3].as<std::string>(), row[4].as<int>(), row[5].as<std::string>(),
                                row[6].as<std::string>(), row[7].as<std::string>(),
                                row[8].as<std::string>(), row[9].as<std::string>()});
    }
    return report;
}

VerifyReport Migrator::verify()
{
    MigratorOptions master = impl_->options;
    master.scope = "master";
    LoadedRun master_run;
    load_run(master, MigrationKind::migration, "", master_run);
    MigratorOptions tenants = impl_->options;
    tenants.scope = "tenant";  // any tenant schema: the files of tenants/
    LoadedRun tenant_run;
    load_run(tenants, MigrationKind::migration, "", tenant_run);

    Session session(*impl_);
    Connection &conn = session.conn();
    Params master_files(array_text(master_run.set.versions()), array_text(master_run.set.checksums()));
    Params tenant_files(array_text(tenant_run.set.versions()), array_text(tenant_run.set.checksums()));
    conn.send(ledger_sql::verify_ledger, no_params());
    conn.send(ledger_sql::verify_master, master_files);
    conn.send(ledger_sql::verify_tenants, tenant_files);
    conn.send(ledger_sql::count_tenant_schemas, no_params());
    conn.send(invalid_index_sql::all, no_params());
    std::vector<Result> results = conn.sync();

    VerifyReport report;
    for (const Row &row : results[0])
        report.ledger.push_back({row[0].as<std::string>(), row[1].as<std::string>(),
                                 row[2].as<std::string>(), row[3].as<std::int64_t>(),
                                 row[4].as<std::string>(), row[5].as<std::string>()});
    for (const Row &row : results[1])
        report.files.push_back({"master", entry_of(row, 1, master_run.set, master_run.target)});
    for (const Row &row : results[2]) {
        VerifyReport::FileMismatch mismatch{row[0].as<std::string>(),
                                            entry_of(row, 1, tenant_run.set, tenant_run.target)};
        report.files.push_back(std::move(mismatch));
    }
    report.scopes_checked = 1 + results[3].value<std::size_t>();
    for (const Row &row : results[4])
        report.invalid_indexes.push_back(
            {row[0].as<std::string>(), row[1].as<std::string>(), row[2].as<std::string>()});
    return report;
}

}  // namespace stratum
