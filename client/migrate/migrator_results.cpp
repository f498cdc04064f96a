// The migrator's result structs: counts, predicates and their JSON form (what
// `stratum migrate ... --json` prints and the admin endpoints return).
#include <nlohmann/json.hpp>

#include "migrator_internal.hpp"
#include "stratum/migrator.hpp"

namespace stratum {
namespace {

using nlohmann::json;

std::string dump(const json &value, int indent)
{
    return value.dump(indent, ' ', false, json::error_handler_t::replace);
}

double ms(std::chrono::microseconds duration)
{
    return static_cast<double>(duration.count()) / 1000.0;
}

json outcome_json(const MigrationOutcome &m)
{
    json out = {{"scope", m.scope},
                {"kind", m.kind},
                {"version", m.version},
                {"name", m.name},
                {"action", m.action},
                {"transactional", m.transactional},
                {"duration_ms", ms(m.duration)},
                {"attempts", m.attempts}};
    if (!m.environment.empty())
        out["environment"] = m.environment;
    if (!m.file.empty())
        out["file"] = m.file;
    return out;
}

json run_json(const RunResult &r)
{
    json migrations = json::array();
    for (const auto &m : r.migrations)
        migrations.push_back(outcome_json(m));
    json counts = json::object();
    for (const auto &m : r.migrations)
        counts[m.action] = counts.value(m.action, 0) + 1;
    json out = {{"operation", r.operation},
                {"scope", r.scope},
                {"kind", r.kind},
                {"dry_run", r.dry_run},
                {"nothing_to_do", r.nothing_to_do()},
                {"counts", counts},
                {"migrations", migrations},
                {"warnings", r.warnings},
                {"hooks", r.hooks},
                {"duration_ms", ms(r.duration)},
                {"round_trips", r.round_trips}};
    if (!r.environment.empty())
        out["environment"] = r.environment;
    return out;
}

json entry_json(const StatusEntry &e)
{
    json out = {{"version", e.version},
                {"name", e.name},
                {"state", e.state},
                {"transactional", e.transactional},
                {"reversible", e.reversible},
                {"depends_on", e.depends_on}};
    if (!e.file.empty())
        out["file"] = e.file;
    if (!e.file_checksum.empty())
        out["file_checksum"] = e.file_checksum;
    if (!e.ledger_checksum.empty())
        out["ledger_checksum"] = e.ledger_checksum;
    if (!e.applied_at.empty()) {
        out["applied_at"] = e.applied_at;
        out["applied_by"] = e.applied_by;
        out["duration_ms"] = e.duration_ms;
    }
    return out;
}

json tenant_json(const TenantInfo &t)
{
    json out = {{"id", t.id},
                {"slug", t.slug},
                {"name", t.name},
                {"status", t.status},
                {"schema_name", t.schema_name.empty() ? json(nullptr) : json(t.schema_name)},
                {"latest_version", t.latest_version ? json(*t.latest_version) : json(nullptr)},
                {"missing_versions", t.missing_versions}};
    return out;
}

}  // namespace

std::string_view to_string(MigrationEvent::Type type) noexcept
{
    switch (type) {
    case MigrationEvent::Type::applied:
        return "applied";
    case MigrationEvent::Type::skipped:
        return "skipped";
    case MigrationEvent::Type::rolled_back:
        return "rolled_back";
    case MigrationEvent::Type::retrying:
        return "retrying";
    case MigrationEvent::Type::waiting:
        return "waiting";
    case MigrationEvent::Type::failed:
        return "failed";
    case MigrationEvent::Type::hook:
        return "hook";
    case MigrationEvent::Type::tenant_done:
        return "tenant_done";
    case MigrationEvent::Type::tenant_failed:
        return "tenant_failed";
    }
    return "event";
}

bool RunResult::nothing_to_do() const noexcept
{
    for (const auto &m : migrations) {
        if (m.action != "skipped")
            return false;
    }
    return true;
}

std::size_t RunResult::count(std::string_view action) const noexcept
{
    std::size_t n = 0;
    for (const auto &m : migrations)
        n += m.action == action;
    return n;
}

std::string RunResult::to_json(int indent) const
{
    return dump(run_json(*this), indent);
}

std::string MigrationError::to_json(int indent) const
{
    const MigrationFailure &f = failure();
    json failure = {{"scope", f.scope}, {"kind", f.kind}, {"phase", f.phase}};
    if (!f.environment.empty())
        failure["environment"] = f.environment;
    if (f.version >= 0) {
        failure["version"] = f.version;
        failure["name"] = f.name;
    }
    if (!f.file.empty())
        failure["file"] = f.file;
    if (f.statement > 0) {
        failure["statement"] = f.statement;
        failure["line"] = f.line;
    }
    json error = {{"reason", to_string(reason())},
                  {"message", message()},
                  {"sqlstate", sqlstate()},
                  {"failure", failure}};
    if (!hint().empty())
        error["hint"] = hint();
    // The detail names what blocks a lock; an integrity violation's detail
    // quotes row values, which stay out.
    if (!detail().empty() && !sqlstate().starts_with("23"))
        error["detail"] = detail();
    json out = {{"error", error}, {"done", run_json(partial())}};
    return dump(out, indent);
}

std::string MigrationFileError::to_json(int indent) const
{
    json list = json::array();
    for (const FileProblem &p : problems_)
        list.push_back({{"file", p.file}, {"line", p.line}, {"message", p.message}});
    json out = {{"error",
                 {{"reason", "file"}, {"sqlstate", sqlstate()}, {"message", message()}, {"problems", list}}}};
    return dump(out, indent);
}

std::size_t StatusReport::count(std::string_view state) const noexcept
{
    std::size_t n = 0;
    for (const auto &e : entries)
        n += e.state == state;
    return n;
}

bool StatusReport::up_to_date() const noexcept
{
    return count("pending") == 0 && count("out_of_order") == 0 && count("drifted") == 0;
}

std::string StatusReport::to_json(int indent) const
{
    json entries_json = json::array();
    for (const auto &e : entries)
        entries_json.push_back(entry_json(e));
    json counts = json::object();
    for (const auto &e : entries)
        counts[e.state] = counts.value(e.state, 0) + 1;
    json waits_json = json::array();
    for (const auto &w : waits)
        waits_json.push_back({{"pid", w.pid},
                              {"scope", w.scope},
                              {"waiting_for", w.waiting_for},
                              {"waiting_since", w.waiting_since},
                              {"blocked_by", w.blocked_by},
                              {"blocker_user", w.blocker_user},
                              {"blocker_application", w.blocker_application},
                              {"blocker_state", w.blocker_state},
                              {"blocker_xact_start", w.blocker_xact_start},
                              {"blocker_query", w.blocker_query}});
    json out = {{"scope", scope},
                {"kind", kind},
                {"up_to_date", up_to_date()},
                {"counts", counts},
                {"migrations", entries_json},
                {"waits", waits_json}};
    return dump(out, indent);
}

std::string VerifyReport::to_json(int indent) const
{
    json ledger_json = json::array();
    for (const auto &p : ledger)
        ledger_json.push_back({{"scope", p.scope},
                               {"kind", p.kind},
                               {"environment", p.environment},
                               {"version", p.version},
                               {"problem", p.problem},
                               {"detail", p.detail}});
    json files_json = json::array();
    for (const auto &f : files) {
        json entry = entry_json(f.entry);
        entry["scope"] = f.scope;
        files_json.push_back(entry);
    }
    json invalid_json = json::array();
    for (const auto &index : invalid_indexes)
        invalid_json.push_back({{"schema", index.schema}, {"index", index.name}, {"table", index.table}});
    json out = {{"ok", ok()},
                {"scopes_checked", scopes_checked},
                {"ledger", ledger_json},
                {"files", files_json},
                {"invalid_indexes", invalid_json}};
    return dump(out, indent);
}

std::string TenantInfo::to_json(int indent) const
{
    return dump(tenant_json(*this), indent);
}

std::size_t TenantRunResult::count(std::string_view state) const noexcept
{
    std::size_t n = 0;
    for (const auto &t : tenants)
        n += t.state == state;
    return n;
}

std::string TenantRunResult::to_json(int indent) const
{
    json tenants_json = json::array();
    for (const auto &t : tenants) {
        json migrations = json::array();
        for (const auto &m : t.migrations)
            migrations.push_back(outcome_json(m));
        json entry = {{"scope", t.scope},
                      {"tenant_id", t.tenant_id},
                      {"state", t.state},
                      {"attempts", t.attempts},
                      {"worker", t.worker},
                      {"duration_ms", ms(t.duration)},
                      {"migrations", migrations}};
        if (!t.error.empty()) {
            entry["error"] = t.error;
            entry["sqlstate"] = t.sqlstate;
        }
        tenants_json.push_back(entry);
    }
    double seconds = static_cast<double>(duration.count()) / 1e6;
    json out = {{"versions", versions},
                {"jobs", jobs},
                {"tenants_total", tenants_total},
                {"queued", queued},
                {"migrated", count("migrated")},
                {"failed", count("failed")},
                {"nothing_to_do", nothing_to_do()},
                {"duration_ms", ms(duration)},
                {"tenants_per_second", seconds > 0 ? static_cast<double>(tenants.size()) / seconds : 0.0},
                {"tenants", tenants_json}};
    return dump(out, indent);
}

namespace migrator {

std::string metadata_of(const RunTarget &target, const MigrationFile &file)
{
    json header = json::object();
    if (!file.header.depends_on.empty())
        header["depends"] = file.header.depends_on;
    if (!file.header.transactional)
        header["no_transaction"] = true;
    if (!file.header.no_transaction_by.empty() && file.header.no_transaction_by != "stratum")
        header["no_transaction_by"] = file.header.no_transaction_by;
    if (file.header.irreversible)
        header["irreversible"] = true;
    if (file.header.lock_timeout)
        header["lock_timeout_ms"] = file.header.lock_timeout->count();
    if (file.header.statement_timeout)
        header["statement_timeout_ms"] = file.header.statement_timeout->count();
    json hooks = json::object();
    if (target.hooks != nullptr) {
        if (target.hooks->before_each)
            hooks["before_each"] = target.hooks->before_each->file;
        if (target.hooks->after_each)
            hooks["after_each"] = target.hooks->after_each->file;
    }
    json metadata = {{"file", file.file}, {"runner", "stratum-migrate 0.1.0"}};
    if (file.down_file)
        metadata["down_file"] = *file.down_file;
    if (!header.empty())
        metadata["header"] = header;
    if (!hooks.empty())
        metadata["hooks"] = hooks;
    if (file.empty)
        metadata["empty"] = true;
    return metadata.dump();
}

}  // namespace migrator
}  // namespace stratum
