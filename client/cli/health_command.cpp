// stratum health: one round of health checks of every configured component;
// exits 1 when any component is down, 0 otherwise (with a warning on stderr
// when something is degraded).
#include <cstdio>
#include <iostream>

#include "cli.hpp"
#include "stratum/health.hpp"
#include "stratum/logging.hpp"

namespace stratum::cli {

namespace {

// Errors on one line, secrets masked.
std::string one_line(const std::string &text)
{
    std::string out = logging::redact(text);
    for (char &c : out)
        if (c == '\n' || c == '\r' || c == '\t')
            c = ' ';
    return out;
}

std::string facts_text(const ComponentHealth &component)
{
    std::string text = component.result.detail;
    if (component.postgres && component.postgres->role == "replica" &&
        component.postgres->lag_seconds) {
        char lag[48];
        std::snprintf(lag, sizeof lag, ", lag %.1fs", *component.postgres->lag_seconds);
        text += lag;
    }
    return text;
}

std::string line_text(const ComponentHealth &component)
{
    std::string text = facts_text(component);
    if (!component.required)
        text += text.empty() ? "(optional)" : " (optional)";
    return text;
}

void print_text(const HealthReport &report)
{
    std::size_t width = 0;
    for (const ComponentHealth &component : report.components)
        width = std::max(width, component.result.component.size());
    std::cout << "overall: " << to_string(report.state) << "\n";
    for (const ComponentHealth &component : report.components) {
        const HealthResult &r = component.result;
        char latency[32];
        std::snprintf(latency, sizeof latency, "%8.1f ms",
                      static_cast<double>(r.latency.count()) / 1000.0);
        std::cout << "  " << r.component << std::string(width - r.component.size() + 2, ' ')
                  << to_string(r.state) << std::string(10 - to_string(r.state).size(), ' ')
                  << latency << "  " << line_text(component) << "\n";
        if (!r.error.empty())
            std::cout << "  " << std::string(width + 2, ' ') << "error: " << one_line(r.error)
                      << "\n";
        if (r.reconnecting)
            std::cout << "  " << std::string(width + 2, ' ') << "reconnecting\n";
    }
}

}  // namespace

void add_health_command(CLI::App &app, GlobalOptions &options, int &exit_code)
{
    auto *command = app.add_subcommand(
        "health", "Check the primary, each replica, the migration ledger, Redis and MinIO once");
    auto json = std::make_shared<bool>(false);
    command->add_flag("--json", *json, "print the report as JSON");
    command->callback([&options, &exit_code, json] {
        exit_code = run([&] {
            const Config config = load_config(options);
            HealthChecker checker(config);
            const HealthReport report = checker.check();
            if (*json)
                std::cout << report.to_json(2) << "\n";
            else
                print_text(report);
            std::cout.flush();
            if (report.any_down()) {
                for (const ComponentHealth &component : report.components)
                    if (component.result.state == HealthState::down)
                        std::cerr << "stratum: " << component.result.component
                                  << " is down: " << one_line(component.result.error) << "\n";
                return static_cast<int>(exit_failure);
            }
            for (const ComponentHealth &component : report.components)
                if (component.result.state == HealthState::degraded)
                    std::cerr << "stratum: warning: " << component.result.component
                              << " is degraded: " << one_line(component.result.error) << "\n";
            return static_cast<int>(exit_ok);
        });
    });
}

}  // namespace stratum::cli
