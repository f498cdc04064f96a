// RedisClient against real servers: the harness's Redis, private
// redis-server processes this test starts and stops (restart, password,
// sentinel), a closed port and a listener that never answers.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "stratum/redis.hpp"
#include "test_env.hpp"

using namespace std::chrono_literals;
using stratum::HealthState;
using stratum::RedisClient;
using stratum::RedisConfig;
using testing::HasSubstr;
using testing::Not;

namespace {

int free_port()
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd, reinterpret_cast<sockaddr *>(&address), sizeof address);
    socklen_t length = sizeof address;
    getsockname(fd, reinterpret_cast<sockaddr *>(&address), &length);
    close(fd);
    return ntohs(address.sin_port);
}

bool port_open(int port);

// A cluster node also listens on port + 10000 (its bus): both must be free.
int free_cluster_port()
{
    for (;;) {
        int port = free_port();
        if (port + 10000 <= 65535 && !port_open(port + 10000))
            return port;
    }
}

bool port_open(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool open = connect(fd, reinterpret_cast<sockaddr *>(&address), sizeof address) == 0;
    close(fd);
    return open;
}

// A listener that accepts connections into its backlog and never answers.
class SilentListener {
public:
    SilentListener()
    {
        fd_ = socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        bind(fd_, reinterpret_cast<sockaddr *>(&address), sizeof address);
        listen(fd_, 16);
        socklen_t length = sizeof address;
        getsockname(fd_, reinterpret_cast<sockaddr *>(&address), &length);
        port_ = ntohs(address.sin_port);
    }
    ~SilentListener() { close(fd_); }
    int port() const { return port_; }

private:
    int fd_ = -1;
    int port_ = 0;
};

// A redis-server (or sentinel) run by this test, in the foreground so its pid
// is ours; stopped by the destructor.
class PrivateRedis {
public:
    explicit PrivateRedis(std::vector<std::string> extra = {}, int port = 0)
        : port_(port ? port : free_port()), extra_(std::move(extra))
    {
        dir_ = std::filesystem::temp_directory_path() /
               ("stratum-redis-test-" + std::to_string(getpid()) + "-" + std::to_string(port_));
        std::filesystem::create_directories(dir_);
        start();
    }
    ~PrivateRedis()
    {
        stop();
        std::error_code ignored;
        std::filesystem::remove_all(dir_, ignored);
    }

    void start()
    {
        std::vector<std::string> args = {"redis-server"};
        args.insert(args.end(), extra_.begin(), extra_.end());
        args.push_back("--port");
        args.push_back(std::to_string(port_));
        args.insert(args.end(), {"--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir",
                                 dir_.string(), "--logfile", (dir_ / "redis.log").string()});
        pid_ = fork();
        if (pid_ == 0) {
            std::vector<char *> argv;
            for (std::string &arg : args)
                argv.push_back(arg.data());
            argv.push_back(nullptr);
            execvp("redis-server", argv.data());
            _exit(127);
        }
        for (int i = 0; i < 200 && !port_open(port_); ++i)
            std::this_thread::sleep_for(25ms);
        if (!port_open(port_)) {
            std::ifstream log(dir_ / "redis.log");
            std::string text((std::istreambuf_iterator<char>(log)),
                             std::istreambuf_iterator<char>());
            FAIL() << "redis-server did not start on port " << port_ << ":\n" << text;
        }
    }

    void stop()
    {
        if (pid_ <= 0)
            return;
        kill(pid_, SIGKILL);
        waitpid(pid_, nullptr, 0);
        pid_ = -1;
    }

    int port() const { return port_; }
    const std::filesystem::path &dir() const { return dir_; }

private:
    int port_;
    std::vector<std::string> extra_;
    std::filesystem::path dir_;
    pid_t pid_ = -1;
};

RedisConfig config_for(const std::string &address)
{
    RedisConfig config;
    config.addr = stratum::parse_host_port(address);
    config.dial_timeout = 1s;
    config.read_timeout = 1s;
    config.reconnect_backoff_min = 50ms;
    config.reconnect_backoff_max = 400ms;
    return config;
}

RedisConfig config_for(int port)
{
    return config_for("127.0.0.1:" + std::to_string(port));
}

}  // namespace

TEST(Redis, CommandsAgainstTheHarnessRedis)
{
    RedisClient redis(config_for(stratum::test::redis_address()));
    std::string key = "stratum:test:" + std::to_string(getpid());
    std::string binary("a\0b\r\nc", 6);
    redis.set(key, binary);
    EXPECT_EQ(redis.get(key), binary);
    EXPECT_EQ(redis.del(key), 1);
    EXPECT_EQ(redis.get(key), std::nullopt);
    EXPECT_EQ(redis.del(key), 0);

    redis.set(key, "ttl", 60s);
    auto ttl = redis.command("PTTL", key);
    EXPECT_EQ(ttl.type, stratum::RedisReply::Type::integer);
    EXPECT_GT(ttl.integer, 50'000);
    EXPECT_LE(ttl.integer, 60'000);

    // An error reply is a reply, and the connection stays usable.
    redis.set(key, "not a number");
    auto error = redis.command("INCR", key);
    EXPECT_TRUE(error.is_error());
    EXPECT_THAT(error.str, HasSubstr("not an integer"));
    EXPECT_TRUE(redis.command("NO_SUCH_COMMAND").is_error());
    auto list = redis.command("MGET", key, key + ":missing");
    ASSERT_EQ(list.type, stratum::RedisReply::Type::array);
    ASSERT_EQ(list.elements.size(), 2u);
    EXPECT_EQ(list.elements[0].str, "not a number");
    EXPECT_TRUE(list.elements[1].is_nil());
    redis.del(key);
    EXPECT_TRUE(redis.connected());
    EXPECT_EQ(redis.server_address(), stratum::test::redis_address());
}

TEST(Redis, HealthCheckIsUp)
{
    RedisClient redis(config_for(stratum::test::redis_address()));
    auto health = redis.check(2s);
    EXPECT_EQ(health.state, HealthState::up) << health.error;
    EXPECT_EQ(health.component, "redis");
    EXPECT_TRUE(health.error.empty());
    EXPECT_FALSE(health.reconnecting);
    EXPECT_GT(health.latency.count(), 0);
    EXPECT_THAT(health.detail, HasSubstr(stratum::test::redis_address()));
}

TEST(Redis, ClosedPortIsDownAtOnce)
{
    int port = free_port();
    RedisClient redis(config_for(port));
    auto started = std::chrono::steady_clock::now();
    auto health = redis.check(2s);
    EXPECT_LT(std::chrono::steady_clock::now() - started, 1s);
    EXPECT_EQ(health.state, HealthState::down);
    EXPECT_THAT(health.error, HasSubstr("127.0.0.1:" + std::to_string(port)));
    EXPECT_THAT(health.error, HasSubstr("refused"));
    EXPECT_FALSE(health.reconnecting);  // it never had a connection
    EXPECT_THROW(redis.get("k"), stratum::RedisConnectionError);
}

TEST(Redis, SilentServerIsDownWithinTheTimeout)
{
    SilentListener silent;
    RedisClient redis(config_for(silent.port()));
    auto started = std::chrono::steady_clock::now();
    auto health = redis.check(300ms);
    auto elapsed = std::chrono::steady_clock::now() - started;
    EXPECT_EQ(health.state, HealthState::down);
    EXPECT_THAT(health.error, HasSubstr("timed out"));
    EXPECT_GE(elapsed, 250ms);
    EXPECT_LT(elapsed, 1500ms);
}

TEST(Redis, ReconnectsAfterTheServerRestarts)
{
    PrivateRedis server;
    RedisClient redis(config_for(server.port()));
    redis.set("k", "before");
    EXPECT_EQ(redis.check(1s).state, HealthState::up);

    server.stop();
    // The command in flight when the server went away fails; it is not retried.
    EXPECT_THROW(redis.get("k"), stratum::RedisConnectionError);
    auto down = redis.check(500ms);
    EXPECT_EQ(down.state, HealthState::down);
    EXPECT_TRUE(down.reconnecting);
    EXPECT_FALSE(down.last_error.empty());
    // While down, commands fail fast until the next attempt is due.
    try {
        redis.get("k");
        redis.get("k");
        FAIL() << "a command succeeded with the server stopped";
    } catch (const stratum::RedisConnectionError &e) {
        SUCCEED() << e.what();
    }

    server.start();
    stratum::HealthResult up;
    auto deadline = std::chrono::steady_clock::now() + 5s;
    do {
        up = redis.check(500ms);
        if (up.state != HealthState::up)
            std::this_thread::sleep_for(50ms);
    } while (up.state != HealthState::up && std::chrono::steady_clock::now() < deadline);
    EXPECT_EQ(up.state, HealthState::up) << up.error;
    EXPECT_FALSE(up.reconnecting);
    EXPECT_FALSE(up.last_error.empty());  // kept after recovery
    EXPECT_EQ(redis.reconnects(), 1);
    EXPECT_EQ(redis.get("k"), std::nullopt);  // a fresh server (no persistence)
    redis.set("k", "after");
    EXPECT_EQ(redis.get("k"), "after");
}

TEST(Redis, CommandsReconnectOnTheirOwnAfterBackoff)
{
    PrivateRedis server;
    RedisClient redis(config_for(server.port()));
    redis.set("k", "v");
    server.stop();
    EXPECT_THROW(redis.get("k"), stratum::RedisConnectionError);
    server.start();
    std::optional<std::string> value;
    bool reconnected = false;
    auto deadline = std::chrono::steady_clock::now() + 5s;
    while (!reconnected && std::chrono::steady_clock::now() < deadline) {
        try {
            value = redis.get("k");
            reconnected = true;
        } catch (const stratum::RedisConnectionError &) {
            std::this_thread::sleep_for(50ms);
        }
    }
    EXPECT_TRUE(reconnected);
    EXPECT_EQ(redis.reconnects(), 1);
}

TEST(Redis, PasswordIsSentAndNeverShown)
{
    const std::string password = "redis pass'word\\with \"specials\"";
    PrivateRedis server({"--requirepass", password});

    RedisConfig wrong = config_for(server.port());
    wrong.password = stratum::Secret("wrong-" + password);
    RedisClient refused(wrong);
    auto health = refused.check(1s);
    EXPECT_EQ(health.state, HealthState::down);
    EXPECT_THAT(health.error, HasSubstr("authentication"));
    EXPECT_THAT(health.error, Not(HasSubstr("pass'word")));
    try {
        refused.connect();
        FAIL();
    } catch (const stratum::RedisError &e) {
        EXPECT_THAT(e.what(), Not(HasSubstr("pass'word")));
    }

    RedisConfig right = config_for(server.port());
    right.password = stratum::Secret(password);
    right.db = 3;
    RedisClient redis(right);
    EXPECT_EQ(redis.check(1s).state, HealthState::up);
    redis.set("k", "in db 3");
    EXPECT_EQ(redis.command("CLIENT", "INFO").str.find("db=3") != std::string::npos, true);

    RedisConfig none = config_for(server.port());
    RedisClient anonymous(none);
    auto noauth = anonymous.check(1s);
    EXPECT_EQ(noauth.state, HealthState::down);
    EXPECT_THAT(noauth.error, HasSubstr("NOAUTH"));
}

TEST(Redis, SentinelNamesTheMaster)
{
    PrivateRedis master;
    int sentinel_port = free_port();
    std::filesystem::path conf = master.dir() / "sentinel.conf";
    {
        std::ofstream out(conf);
        out << "sentinel monitor stratum 127.0.0.1 " << master.port() << " 1\n";
    }
    PrivateRedis sentinel({conf.string(), "--sentinel"}, sentinel_port);

    RedisConfig config = config_for(master.port());
    config.addr = {};
    config.sentinel_master = "stratum";
    // The first sentinel is down: the client moves on to the next.
    config.sentinel_addrs = {{"127.0.0.1", free_port()}, {"127.0.0.1", sentinel_port}};
    RedisClient redis(config);
    auto health = redis.check(2s);
    EXPECT_EQ(health.state, HealthState::up) << health.error;
    EXPECT_THAT(health.detail, HasSubstr("127.0.0.1:" + std::to_string(master.port())));
    EXPECT_THAT(health.detail, HasSubstr("via sentinel"));
    redis.set("k", "through sentinel");
    EXPECT_EQ(redis.get("k"), "through sentinel");

    RedisConfig unknown = config;
    unknown.sentinel_master = "nobody";
    RedisClient lost(unknown);
    auto down = lost.check(2s);
    EXPECT_EQ(down.state, HealthState::down);
    EXPECT_THAT(down.error, HasSubstr("does not know master \"nobody\""));
}

TEST(Redis, ConfiguredFromTheConfigFile)
{
    stratum::LoadOptions load;
    load.env = std::map<std::string, std::string>{
        {"REDIS_URL", "redis://" + stratum::test::redis_address() + "/1"}};
    stratum::Config config = stratum::Config::load(load);
    ASSERT_TRUE(config.database.redis);
    RedisClient redis(*config.database.redis);
    EXPECT_EQ(redis.check(2s).state, HealthState::up);
    EXPECT_THAT(redis.command("CLIENT", "INFO").str, HasSubstr("db=1"));
}

TEST(Redis, BusyServerIsDegraded)
{
    // A script that runs past busy-reply-threshold makes Redis answer BUSY to
    // everyone else: reachable, but not serving.
    PrivateRedis server({"--busy-reply-threshold", "100"});
    RedisConfig long_wait = config_for(server.port());
    long_wait.read_timeout = 10s;
    RedisClient scripter(long_wait);
    scripter.connect();
    std::thread script([&] {
        auto reply = scripter.command("EVAL", "while true do end", "0");
        EXPECT_TRUE(reply.is_error());  // killed below
    });
    RedisClient redis(config_for(server.port()));
    stratum::HealthResult health;
    auto deadline = std::chrono::steady_clock::now() + 5s;
    do {
        std::this_thread::sleep_for(50ms);
        health = redis.check(1s);
    } while (health.state == HealthState::up && std::chrono::steady_clock::now() < deadline);
    EXPECT_EQ(health.state, HealthState::degraded) << health.error;
    EXPECT_THAT(health.error, HasSubstr("BUSY"));

    RedisClient killer(config_for(server.port()));
    killer.command("SCRIPT", "KILL");
    script.join();
    EXPECT_EQ(redis.check(1s).state, HealthState::up);
}

TEST(Redis, ClusterFollowsMovedRedirects)
{
    // Two masters sharing the slots; the client knows only the first.
    PrivateRedis first({"--cluster-enabled", "yes", "--cluster-config-file", "nodes-a.conf"},
                       free_cluster_port());
    PrivateRedis second({"--cluster-enabled", "yes", "--cluster-config-file", "nodes-b.conf"},
                        free_cluster_port());
    RedisClient a(config_for(first.port()));
    RedisClient b(config_for(second.port()));
    ASSERT_FALSE(a.command("CLUSTER", "ADDSLOTSRANGE", "0", "8191").is_error());
    ASSERT_FALSE(b.command("CLUSTER", "ADDSLOTSRANGE", "8192", "16383").is_error());
    ASSERT_FALSE(
        a.command("CLUSTER", "MEET", "127.0.0.1", std::to_string(second.port())).is_error());
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < deadline &&
           (a.command("CLUSTER", "INFO").str.find("cluster_state:ok") == std::string::npos ||
            b.command("CLUSTER", "INFO").str.find("cluster_state:ok") == std::string::npos))
        std::this_thread::sleep_for(100ms);

    RedisConfig config = config_for(first.port());
    config.addr = {};
    config.cluster_addrs = {{"127.0.0.1", first.port()}};
    RedisClient cluster(config);
    EXPECT_EQ(cluster.check(2s).state, HealthState::up);
    // Keys on both halves of the slot space: some answer from the second node.
    for (int i = 0; i < 20; ++i)
        cluster.set("key:" + std::to_string(i), std::to_string(i));
    for (int i = 0; i < 20; ++i)
        EXPECT_EQ(cluster.get("key:" + std::to_string(i)), std::to_string(i));
    EXPECT_GT(b.command("DBSIZE").integer, 0);
    EXPECT_GT(a.command("DBSIZE").integer, 0);
}
