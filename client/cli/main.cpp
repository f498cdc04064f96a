// The stratum command: global options, then one subcommand group per file.
#include <CLI/CLI.hpp>

#include "cli.hpp"

int main(int argc, char **argv)
{
    using namespace stratum::cli;
    CLI::App app{"stratum: tenant isolation, audit trail and migrations for PostgreSQL"};
    app.require_subcommand(1);
    app.set_version_flag("--version", "stratum 0.1.0");
    GlobalOptions options;
    add_global_options(app, options);
    int exit_code = exit_ok;

    add_check_command(app, options, exit_code);
    add_migrate_commands(app, options, exit_code);
    add_seed_command(app, options, exit_code);
    add_tenant_commands(app, options, exit_code);
    add_health_command(app, options, exit_code);
    add_serve_command(app, options, exit_code);

    for (CLI::App *command : app.get_subcommands({}))
        command->fallthrough();
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError &error) {
        int code = app.exit(error);
        return code == 0 ? exit_ok : exit_usage;
    }
    return exit_code;
}
