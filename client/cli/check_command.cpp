// stratum check: the isolation report; exits 3 when a table leaks.
#include <iostream>

#include <nlohmann/json.hpp>

#include "cli.hpp"

namespace stratum::cli {

void add_check_command(CLI::App &app, GlobalOptions &options, int &exit_code)
{
    auto *command = app.add_subcommand(
        "check", "Isolation report: every table, view, application role and setting, and "
                 "whether tenant rows can leak");
    auto json = std::make_shared<bool>(false);
    auto all = std::make_shared<bool>(false);
    command->add_flag("--json", *json, "print JSON");
    command->add_flag("--all", *all, "also list tables that are ok or shared");
    command->callback([&options, &exit_code, json, all] {
        exit_code = run([&] {
            Config config = load_config(options);
            auto connection = connect(config);
            // Tables and views first, then the application roles and settings
            // (relation is NULL for those; subject names them).
            Result report = connection->exec(
                "SELECT subject, kind, verdict, problems::text[], relation IS NOT NULL "
                "FROM stratum.isolation_report() "
                "ORDER BY CASE verdict WHEN 'leak' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END, "
                "relation IS NULL, subject");
            int leaks = 0, warnings = 0, relations = 0;
            nlohmann::json rows = nlohmann::json::array();
            for (const Row &row : report) {
                auto subject = row[0].as<std::string>();
                bool is_relation = row[4].as<bool>();
                auto kind = row[1].as<std::string>();
                auto verdict = row[2].as<std::string>();
                auto problems = row[3].as<std::vector<std::string>>();
                relations += is_relation;
                leaks += verdict == "leak";
                warnings += verdict == "warning";
                if (*json) {
                    rows.push_back({{"relation", is_relation ? nlohmann::json(subject) : nlohmann::json()},
                                    {"subject", subject}, {"kind", kind},
                                    {"verdict", verdict}, {"problems", problems}});
                } else if (*all || verdict == "leak" || verdict == "warning") {
                    std::cout << verdict << "\t" << kind << "\t" << subject << "\n";
                    for (const auto &problem : problems)
                        std::cout << "\t" << problem << "\n";
                }
            }
            if (*json)
                std::cout << rows.dump(2) << "\n";
            else
                std::cout << relations << " relations, " << report.size() - relations
                          << " roles and settings checked: " << leaks << " leak, " << warnings
                          << " warning\n";
            return leaks > 0 ? exit_drift : exit_ok;
        });
    });
}

}  // namespace stratum::cli
