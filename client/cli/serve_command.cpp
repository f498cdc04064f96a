// stratum serve: the HTTP health, metrics and admin endpoints over the pool
// built from the configuration, until SIGTERM or SIGINT (then: stop
// accepting, finish the requests in progress, close the pool).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>

#include <atomic>
#include <cstdlib>
#include <iostream>
#include <thread>

#include "cli.hpp"
#include "stratum/config_pool.hpp"
#include "stratum/health.hpp"
#include "stratum/http_server.hpp"
#include "stratum/logging.hpp"
#include "stratum/object_store.hpp"
#include "stratum/pool.hpp"
#include "stratum/redis.hpp"

namespace stratum::cli {

// What the admin endpoints do (serve_admin.cpp).
AdminActions make_admin_actions(const Config &config, Pool &pool);

namespace {

struct ServeSettings {
    std::string listen;  // "" = config.server.listen
    bool allow_non_loopback = false;
    std::size_t threads = 4;
};

// "HOST:PORT", where port 0 picks a free port (the chosen one is printed).
HostPort parse_listen(const std::string &text)
{
    if (text.size() > 2 && text.ends_with(":0")) {
        HostPort address = parse_host_port(text.substr(0, text.size() - 1) + "1");
        address.port = 0;
        return address;
    }
    return parse_host_port(text);
}

// localhost, ::1 or an IPv4 address in 127.0.0.0/8 (a name such as
// 127.example.com is not an address).
bool is_loopback(const std::string &host)
{
    in_addr v4{};
    if (inet_pton(AF_INET, host.c_str(), &v4) == 1)
        return (ntohl(v4.s_addr) >> 24) == 127;
    in6_addr v6{};
    if (inet_pton(AF_INET6, host.c_str(), &v6) == 1)
        return IN6_IS_ADDR_LOOPBACK(&v6);
    return host == "localhost";
}

// Blocks SIGTERM and SIGINT in this thread and every thread it starts, so
// that only the waiter below receives them (with sigtimedwait).
sigset_t block_shutdown_signals()
{
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    return signals;
}

int serve(const GlobalOptions &options, const ServeSettings &settings)
{
    const sigset_t signals = block_shutdown_signals();
    const Config config = load_config(options);
    const HostPort listen =
        settings.listen.empty() ? config.server.listen : parse_listen(settings.listen);
    if (!is_loopback(listen.host) && !settings.allow_non_loopback) {
        std::cerr << "stratum: refusing to listen on " << listen.to_string()
                  << ", which is not a loopback address: pass --allow-non-loopback to mean it\n";
        return exit_usage;
    }
    const Secret &token = config.server.admin_token;
    if (!token.empty() && token.reveal().size() < 16) {
        std::cerr << "stratum: the admin token in " << config.server.admin_token_env
                  << " is shorter than 16 characters\n";
        return exit_usage;
    }
    if (!is_loopback(listen.host)) {
        logging::warn("serve", "listening on a non-loopback address",
                      {{logging::field::endpoint, listen.to_string()}});
        if (!token.empty())
            logging::warn("serve",
                          "the admin token travels in clear text: put TLS in front of this server");
    }

    Pool pool(to_pool_options(config));
    HealthSources sources;
    sources.pool = &pool;
    if (config.database.redis)
        sources.redis = std::make_shared<RedisClient>(*config.database.redis);
    if (config.database.minio)
        sources.minio = std::make_shared<ObjectStore>(*config.database.minio);
    HealthChecker checker(config, sources);

    HttpServerOptions server_options;
    server_options.listen = listen;
    server_options.admin_token = token;
    server_options.admin_token_variable = config.server.admin_token_env;
    server_options.production = config.production;
    server_options.threads = settings.threads;
    HttpServer server(server_options, checker, &pool, make_admin_actions(config, pool));
    const int port = server.bind();

    std::atomic<bool> finished{false};
    std::thread waiter([&] {
        bool stopping = false;
        const timespec tick{0, 200 * 1000 * 1000};
        while (!finished.load()) {
            const int signal = sigtimedwait(&signals, nullptr, &tick);
            if (signal <= 0)
                continue;
            if (stopping) {
                logging::warn("serve", "second signal: exiting now", {{"signal", signal}});
                std::_Exit(exit_failure);
            }
            stopping = true;
            logging::info("serve", "shutting down: finishing requests in progress",
                          {{"signal", signal}});
            server.stop();
        }
    });

    checker.start();  // the first round runs now: no request sees an empty report
    for (const ComponentHealth &component : checker.latest().components)
        if (component.result.state != HealthState::up)
            logging::warn("serve", "component not up at start",
                          {{"name", component.result.component},
                           {logging::field::state, std::string(to_string(component.result.state))},
                           {logging::field::error, component.result.error}});
    const HostPort bound{listen.host, port};
    std::cout << "listening on http://" << bound.to_string() << std::endl;
    logging::info("serve", "listening",
                  {{logging::field::endpoint, bound.to_string()},
                   {"admin", token.empty() ? "off" : "on"},
                   {"environment", config.environment}});
    server.run();
    finished = true;
    waiter.join();
    checker.stop();
    logging::info("serve", "stopped");
    return exit_ok;
}

}  // namespace

void add_serve_command(CLI::App &app, GlobalOptions &options, int &exit_code)
{
    auto *command = app.add_subcommand(
        "serve", "Serve /health/*, /metrics and the admin endpoints over HTTP until SIGTERM");
    auto settings = std::make_shared<ServeSettings>();
    command->add_option("--listen", settings->listen,
                        "HOST:PORT to listen on (default: server.listen, 127.0.0.1:8080)");
    command->add_flag("--allow-non-loopback", settings->allow_non_loopback,
                      "allow listening on an address other than loopback");
    command->add_option("--threads", settings->threads, "requests served at once")
        ->check(CLI::Range(1, 256));
    command->callback([&options, &exit_code, settings] {
        exit_code = run([&] { return serve(options, *settings); });
    });
}

}  // namespace stratum::cli
