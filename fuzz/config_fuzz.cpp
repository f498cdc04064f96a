// libFuzzer target: Config::parse on arbitrary YAML and environment values.
// It must either return a configuration or throw ConfigError (nothing else,
// no crash, no sanitizer report), and what a configuration renders (to_json,
// redacted) must not depend on any secret's value.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>

#include <fuzzer/FuzzedDataProvider.h>

#include "stratum/config.hpp"

namespace {

// Environment variables the loader reads; the fuzzer sets a few of them.
const char *const variables[] = {"STRATUM_ENV",  "DATABASE_URL", "PGHOST",   "PGPORT",
                                 "PGUSER",       "PGPASSWORD",   "PGDATABASE", "PGSSLMODE",
                                 "REDIS_ADDR",   "REDIS_PASSWORD", "STRATUM_ADMIN_TOKEN",
                                 "MINIO_ENDPOINT", "MINIO_SECRET_KEY", "STRATUM_DATABASE_POSTGRES_MASTER_PORT"};

// The same configuration with every non-empty secret replaced: what it
// renders must not change, or a secret's value is shown somewhere.
stratum::Config with_other_secrets(stratum::Config config)
{
    auto replace = [](stratum::Secret &secret) {
        if (!secret.empty())
            secret = stratum::Secret(secret.reveal() == "other" ? "another" : "other");
    };
    replace(config.database.postgres.master.password);
    for (auto &replica : config.database.postgres.replicas)
        replace(replica.password);
    if (config.database.redis)
        replace(config.database.redis->password);
    if (config.database.minio)
        replace(config.database.minio->secret_key);
    replace(config.server.admin_token);
    return config;
}

void expect_same(const std::string &rendered, const std::string &with_other_secrets)
{
    if (rendered != with_other_secrets) {
        std::fprintf(stderr, "rendering depends on a secret's value:\n%s\n%s\n", rendered.c_str(),
                     with_other_secrets.c_str());
        std::abort();
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
    FuzzedDataProvider input(data, size);
    std::map<std::string, std::string> env;
    const int count = input.ConsumeIntegralInRange(0, 3);
    for (int i = 0; i < count; i++) {
        const char *name = variables[input.ConsumeIntegralInRange<std::size_t>(0, std::size(variables) - 1)];
        env[name] = input.ConsumeRandomLengthString(64);
    }
    const std::string yaml = input.ConsumeRemainingBytesAsString();
    stratum::LoadOptions options;
    options.env = env;
    try {
        stratum::Config config = stratum::Config::parse(yaml, "fuzz.yaml", options);
        const stratum::Config other = with_other_secrets(config);
        expect_same(config.to_json(), other.to_json());
        expect_same(config.redacted().to_json(-1), other.redacted().to_json(-1));
        (void)config.postgres_master_conninfo();
        (void)config.postgres_replica_conninfos();
    } catch (const stratum::ConfigError &) {
        // Bad input, reported as such: fine.
    }
    return 0;
}
