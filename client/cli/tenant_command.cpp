// stratum tenant create | list | migrate: tenants and their schemas.
#include <cstdio>
#include <iostream>

#include "cli.hpp"
#include "migration_cli.hpp"

namespace stratum::cli {
namespace {

struct TenantArgs {
    MigrationCliOptions common;
    std::string slug;
    std::string name;
    bool schema = false;
    bool behind = false;
    int jobs = 4;
};

Migrator make_migrator(const GlobalOptions &global, const TenantArgs &args)
{
    Config config = load_config(global);
    MigratorOptions options = migrator_options(config, args.common);
    options.jobs = args.jobs;
    return Migrator(config.postgres_master_conninfo(), std::move(options));
}

std::string versions_text(const std::vector<std::int64_t> &versions)
{
    std::string text;
    for (std::size_t i = 0; i < versions.size(); i++) {
        if (i > 0)
            text += ',';
        text += std::to_string(versions[i]);
    }
    return text;
}

}  // namespace

void add_tenant_commands(CLI::App &app, GlobalOptions &options, int &exit_code)
{
    auto *tenant = app.add_subcommand("tenant", "Tenants and their schemas");
    tenant->require_subcommand(1);
    auto args = std::make_shared<TenantArgs>();
    add_migration_options(*tenant, args->common, false);

    auto *create = tenant->add_subcommand("create", "Register a tenant (and make its schema)");
    create->add_option("slug", args->slug, "lower-case letters, digits and inner hyphens")->required();
    create->add_option("name", args->name, "display name")->required();
    create->add_flag("--schema", args->schema,
                     "also create its schema (tenant_<slug>) and apply migrations/tenants/ there");
    create->callback([&options, &exit_code, args] {
        exit_code = run_migration_command(args->common, [&] {
            Migrator migrator = make_migrator(options, *args);
            TenantInfo info = migrator.create_tenant(args->slug, args->name, args->schema);
            if (args->common.json)
                std::cout << info.to_json(2) << "\n";
            else
                std::cout << "created tenant " << info.slug << " " << info.id
                          << (info.schema_name.empty() ? "" : " with schema " + info.schema_name)
                          << (info.latest_version ? " at version " + std::to_string(*info.latest_version) : "")
                          << "\n";
            return static_cast<int>(exit_ok);
        });
    });

    auto *list = tenant->add_subcommand("list", "Tenants, their schemas and tenant migration versions");
    list->add_flag("--behind", args->behind, "only tenant schemas lacking a tenant migration");
    list->callback([&options, &exit_code, args] {
        exit_code = run_migration_command(args->common, [&] {
            Migrator migrator = make_migrator(options, *args);
            std::vector<TenantInfo> tenants =
                args->behind ? migrator.tenants_behind() : migrator.list_tenants();
            if (args->common.json) {
                std::cout << "[";
                for (std::size_t i = 0; i < tenants.size(); i++)
                    std::cout << (i ? ",\n " : "\n ") << tenants[i].to_json();
                std::cout << "\n]\n";
            } else {
                std::printf("%-24s  %-36s  %-10s  %-28s  %-8s  %s\n", "SLUG", "ID", "STATUS",
                            "SCHEMA", "VERSION", "MISSING");
                for (const auto &t : tenants)
                    std::printf("%-24s  %-36s  %-10s  %-28s  %-8s  %s\n", t.slug.c_str(), t.id.c_str(),
                                t.status.c_str(), t.schema_name.empty() ? "-" : t.schema_name.c_str(),
                                t.latest_version ? std::to_string(*t.latest_version).c_str() : "-",
                                versions_text(t.missing_versions).c_str());
                std::cout << tenants.size() << (args->behind ? " tenants behind\n" : " tenants\n");
            }
            return success_code(tenants.empty() && args->behind, args->common);
        });
    });

    auto *migrate = tenant->add_subcommand(
        "migrate", "Apply migrations/tenants/ to every tenant schema, N at a time; resumable");
    migrate->add_option("--jobs,-j", args->jobs, "workers, each with its own connection (default 4)")
        ->check(CLI::Range(1, 256));
    migrate->callback([&options, &exit_code, args] {
        exit_code = run_migration_command(args->common, [&] {
            Migrator migrator = make_migrator(options, *args);
            TenantRunResult result = migrator.migrate_tenants();
            if (args->common.json) {
                std::cout << result.to_json(2) << "\n";
            } else if (result.nothing_to_do()) {
                std::cout << "nothing to do: " << result.tenants_total
                          << " tenant schemas are up to date\n";
            } else {
                for (const auto &t : result.tenants) {
                    if (t.state == "failed")
                        std::cout << "failed  " << t.scope << ": " << t.error << "\n";
                }
                double seconds = static_cast<double>(result.duration.count()) / 1e6;
                std::printf("%zu tenant schemas, %zu queued: %zu migrated, %zu failed in %.2f s "
                            "(%.0f tenants/s, %d jobs)\n",
                            result.tenants_total, result.queued, result.count("migrated"),
                            result.count("failed"), seconds,
                            seconds > 0 ? static_cast<double>(result.tenants.size()) / seconds : 0.0,
                            result.jobs);
            }
            if (!result.ok())
                return static_cast<int>(exit_failure);
            return success_code(result.nothing_to_do(), args->common);
        });
    });

    for (CLI::App *command : tenant->get_subcommands({}))
        command->fallthrough();
}

}  // namespace stratum::cli
