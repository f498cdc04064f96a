// What each endpoint of stratum serve answers: health reports (200 up or
// degraded, 503 down), Prometheus metrics, and the admin actions with their
// failures mapped to status codes.
#include <chrono>

#include "http_server_state.hpp"
#include "stratum/errors.hpp"
#include "stratum/health.hpp"
#include "stratum/logging.hpp"
#include "stratum/pool.hpp"
#include "stratum/prometheus.hpp"

namespace stratum {

namespace http {

namespace {

using namespace std::chrono;
using State = HttpServer::State;

void send_report(httplib::Response &response, const HealthReport &report, Json body)
{
    if (report.components.empty())
        body["error"] = "no such component is configured";
    send_json(response, report.state == HealthState::down ? 503 : 200, body);
}

void health_all(State &s, const httplib::Request &, httplib::Response &response)
{
    const HealthReport report = s.health.current();
    send_report(response, report, detail::report_json(report));
}

void health_database(State &s, const httplib::Request &, httplib::Response &response)
{
    const HealthReport report = s.health.current().only({ComponentKind::postgres});
    send_report(response, report, detail::report_json(report));
}

void health_pool(State &s, const httplib::Request &, httplib::Response &response)
{
    const HealthReport report = s.health.current().only({ComponentKind::pool});
    Json body = detail::report_json(report);
    if (s.pool != nullptr)
        body["pool"] = detail::pool_metrics_json(s.pool->metrics());
    send_report(response, report, std::move(body));
}

void health_migrations(State &s, const httplib::Request &, httplib::Response &response)
{
    const HealthReport report = s.health.current().only({ComponentKind::migrations});
    send_report(response, report, detail::report_json(report));
}

void metrics(State &s, const httplib::Request &, httplib::Response &response)
{
    response.status = 200;
    response.set_content(prometheus::render_metrics(s.health.current(), s.pool),
                         std::string(prometheus::content_type).c_str());
}

// The answer to an action that threw.
int send_failure(httplib::Response &response, std::string_view action, std::exception_ptr failure)
{
    auto retry_later = [&](int status, std::string_view code, const std::exception &error) {
        send_error(response, status, code, error.what());
        response.set_header("Retry-After", "5");
        return status;
    };
    try {
        std::rethrow_exception(failure);
    } catch (const AdminError &error) {
        send_error(response, error.status(), error.code(), error.what());
        return error.status();
    } catch (const ValidationError &error) {
        send_error(response, 400, "invalid_request", error.what());
        return 400;
    } catch (const PoolExhausted &error) {
        return retry_later(503, "database_unavailable", error);
    } catch (const ConnectionLost &error) {
        return retry_later(503, "database_unavailable", error);
    } catch (const Timeout &error) {
        send_error(response, 504, "timeout", error.what());
        return 504;
    } catch (const Error &error) {
        struct Mapping {
            std::string_view sqlstate;
            int status;
            std::string_view code;
        };
        // The ledger's own SQLSTATEs (docs/migrations.md) and the few others
        // a caller can act on; anything else is the database's error, 500.
        static constexpr Mapping mappings[] = {
            {"SM001", 409, "drift"},           {"SM002", 409, "dependency_not_applied"},
            {"SM003", 409, "ledger_tampered"}, {"SM004", 404, "not_in_ledger"},
            {"SM005", 409, "irreversible"},    {"2BP01", 409, "dependents_applied"},
            {"55P03", 409, "locked"},          {"42501", 500, "permission_denied"},
        };
        for (const Mapping &m : mappings) {
            if (error.sqlstate() == m.sqlstate) {
                if (m.sqlstate == "55P03")
                    return retry_later(m.status, m.code, error);
                send_error(response, m.status, m.code, error.what());
                return m.status;
            }
        }
        send_error(response, 500, "database_error", error.what());
        return 500;
    } catch (const std::exception &error) {
        logging::error("http", "admin action failed",
                       {{"action", action}, {logging::field::error, error.what()}});
        send_error(response, 500, "internal_error", "internal error (see the server log)");
        return 500;
    } catch (...) {
        logging::error("http", "admin action failed",
                       {{"action", action}, {logging::field::error, "unknown exception"}});
        send_error(response, 500, "internal_error", "internal error (see the server log)");
        return 500;
    }
}

void run_admin(State &s, const AdminAction &action, std::string_view name,
               const httplib::Request &request, httplib::Response &response)
{
    AdminRequest call;
    call.remote = request.remote_addr;
    if (request.body.empty()) {
        call.body = "{}";
    } else {
        const std::string type = request.get_header_value("Content-Type");
        if (!type.empty() && !type.starts_with("application/json")) {
            send_error(response, 415, "unsupported_media_type",
                       "send the request body as application/json");
            return;
        }
        const Json parsed = Json::parse(request.body, nullptr, false);
        if (parsed.is_discarded() || !parsed.is_object()) {
            send_error(response, 400, "invalid_json", "the request body must be a JSON object");
            return;
        }
        call.body = request.body;
    }
    if (!action) {
        send_error(response, 501, "not_available",
                   "this server has no " + std::string(name) + " action");
        return;
    }
    const auto started = steady_clock::now();
    int status = 0;
    try {
        AdminResponse answer = action(call);
        response.status = answer.status;
        response.set_content(answer.body.empty() ? "{}\n" : answer.body,
                             std::string(json_type).c_str());
        status = answer.status;
    } catch (...) {
        status = send_failure(response, name, std::current_exception());
    }
    const double ms = duration<double, std::milli>(steady_clock::now() - started).count();
    // A change made through the admin endpoints shows in /health and
    // /metrics at once, not at the next background round.
    if (request.method == "POST" && status >= 200 && status < 300) {
        try {
            s.health.check();
        } catch (const std::exception &error) {
            logging::warn("http", "health check after an admin action failed",
                          {{logging::field::error, error.what()}});
        }
    }
    logging::log(status < 400 ? logging::Level::info : logging::Level::warn, "http", "admin action",
                 {{"action", name},
                  {"status", status},
                  {"remote", call.remote},
                  {logging::field::duration_ms, ms}});
}

void migrate_up(State &s, const httplib::Request &request, httplib::Response &response)
{
    run_admin(s, s.admin.migrate_up, "migrate_up", request, response);
}

void migrate_down(State &s, const httplib::Request &request, httplib::Response &response)
{
    run_admin(s, s.admin.migrate_down, "migrate_down", request, response);
}

void migration_status(State &s, const httplib::Request &request, httplib::Response &response)
{
    run_admin(s, s.admin.migration_status, "migration_status", request, response);
}

void seed(State &s, const httplib::Request &request, httplib::Response &response)
{
    if (s.options.production) {
        send_error(response, 403, "refused_in_production",
                   "seeding is refused in a production environment");
        logging::warn("http", "seed refused in production", {{"remote", request.remote_addr}});
        return;
    }
    run_admin(s, s.admin.seed, "seed", request, response);
}

}  // namespace

const std::vector<Endpoint> &endpoints()
{
    static const std::vector<Endpoint> all = {
        {"/health", {"GET"}, false, health_all},
        {"/health/database", {"GET"}, false, health_database},
        {"/health/database/pool", {"GET"}, false, health_pool},
        {"/health/migrations", {"GET"}, false, health_migrations},
        {"/metrics", {"GET"}, false, metrics},
        {"/admin/migrations/up", {"POST"}, true, migrate_up},
        {"/admin/migrations/down", {"POST"}, true, migrate_down},
        {"/admin/migrations/status", {"GET"}, true, migration_status},
        {"/admin/database/seed", {"POST"}, true, seed},
    };
    return all;
}

}  // namespace http

}  // namespace stratum
