// RedisClient over hiredis: connect (standalone, via sentinel, or to a
// cluster seed), commands, PING health checks and reconnection with backoff.
#include "stratum/redis.hpp"

#include <algorithm>
#include <cerrno>
#include <mutex>
#include <random>

#include <hiredis.h>

#include "stratum/logging.hpp"

namespace stratum {

namespace {

using Clock = std::chrono::steady_clock;

struct ContextDeleter {
    void operator()(redisContext *context) const noexcept { redisFree(context); }
};
using Context = std::unique_ptr<redisContext, ContextDeleter>;

struct ReplyDeleter {
    void operator()(redisReply *reply) const noexcept { freeReplyObject(reply); }
};
using RawReply = std::unique_ptr<redisReply, ReplyDeleter>;

timeval to_timeval(Duration duration)
{
    long long ms = std::max<long long>(duration.count(), 1);
    return timeval{static_cast<time_t>(ms / 1000), static_cast<suseconds_t>((ms % 1000) * 1000)};
}

RedisReply convert(const redisReply *reply)
{
    RedisReply out;
    switch (reply->type) {
    case REDIS_REPLY_STRING:
        out.type = RedisReply::Type::string;
        out.str.assign(reply->str, reply->len);
        break;
    case REDIS_REPLY_STATUS:
        out.type = RedisReply::Type::status;
        out.str.assign(reply->str, reply->len);
        break;
    case REDIS_REPLY_ERROR:
        out.type = RedisReply::Type::error;
        out.str.assign(reply->str, reply->len);
        break;
    case REDIS_REPLY_INTEGER:
        out.type = RedisReply::Type::integer;
        out.integer = reply->integer;
        break;
    case REDIS_REPLY_ARRAY:
        out.type = RedisReply::Type::array;
        for (size_t i = 0; i < reply->elements; ++i)
            out.elements.push_back(convert(reply->element[i]));
        break;
    default:
        out.type = RedisReply::Type::nil;
    }
    return out;
}

// hiredis reports a read timeout as EAGAIN's text; say what happened.
std::string context_error(const redisContext *context, Duration timeout)
{
    if (context == nullptr)
        return "out of memory";
    std::string text = context->errstr;
    if (context->err == REDIS_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK ||
                                         text.find("temporarily unavailable") != std::string::npos))
        return "timed out after " + format_duration(timeout);
    if (text.empty())
        return "connection error " + std::to_string(context->err);
    return text;
}

// Runs one command on a bare context; nullopt when the connection failed.
std::optional<RedisReply> run(redisContext *context, const std::vector<std::string> &arguments)
{
    std::vector<const char *> argv;
    std::vector<size_t> lengths;
    for (const std::string &argument : arguments) {
        argv.push_back(argument.data());
        lengths.push_back(argument.size());
    }
    RawReply reply(static_cast<redisReply *>(
        redisCommandArgv(context, static_cast<int>(argv.size()), argv.data(), lengths.data())));
    if (!reply)
        return std::nullopt;
    return convert(reply.get());
}

bool starts_with_word(const std::string &text, std::string_view word)
{
    return text.size() >= word.size() && text.compare(0, word.size(), word) == 0 &&
           (text.size() == word.size() || text[word.size()] == ' ');
}

}  // namespace

struct RedisClient::State {
    RedisConfig config;
    mutable std::mutex mutex;
    Context context;
    HostPort node;                     // where `context` is connected
    std::optional<HostPort> redirect;  // cluster: the node a MOVED reply named
    bool ever_connected = false;
    bool lost = false;  // a working connection went away
    int failures = 0;   // consecutive failed attempts
    Clock::time_point next_attempt{};
    long long reconnects = 0;
    std::string last_error;
    std::chrono::system_clock::time_point last_error_at{};
    std::mt19937_64 random{std::random_device{}()};

    explicit State(RedisConfig c) : config(std::move(c)) {}

    void record_error(const std::string &message)
    {
        last_error = message;
        last_error_at = std::chrono::system_clock::now();
    }

    Duration backoff()
    {
        long long base = config.reconnect_backoff_min.count();
        long long cap = config.reconnect_backoff_max.count();
        long long delay = base;
        for (int i = 1; i < failures && delay < cap; ++i)
            delay *= 2;
        delay = std::min(delay, cap);
        // "Equal jitter": half fixed, half random, so clients spread out.
        std::uniform_int_distribution<long long> jitter(0, delay / 2);
        return Duration(delay - delay / 2 + jitter(random));
    }

    void drop(const std::string &why)
    {
        if (context) {
            logging::warn(
                "redis", "connection lost",
                {{logging::field::endpoint, node.to_string()}, {logging::field::error, why}});
            lost = true;
            // The first attempt after a loss is immediate; later ones back off.
            failures = 0;
            next_attempt = Clock::now();
        }
        context.reset();
        record_error(why);
    }

    // A connected, authenticated context to `address`.
    Context open(const HostPort &address, Duration dial_timeout, Duration read_timeout,
                 bool authenticate)
    {
        Context context(
            redisConnectWithTimeout(address.host.c_str(), address.port, to_timeval(dial_timeout)));
        if (!context || context->err)
            throw RedisConnectionError("cannot connect to Redis at " + address.to_string() + ": " +
                                       context_error(context.get(), dial_timeout));
        redisSetTimeout(context.get(), to_timeval(read_timeout));
        redisEnableKeepAlive(context.get());
        if (!authenticate)
            return context;
        auto expect_ok = [&](const std::vector<std::string> &arguments, const char *what) {
            auto reply = run(context.get(), arguments);
            if (!reply)
                throw RedisConnectionError("Redis at " + address.to_string() + " did not answer " +
                                           what + ": " +
                                           context_error(context.get(), read_timeout));
            if (reply->is_error())
                throw RedisError("Redis at " + address.to_string() + " refused " + what + ": " +
                                 reply->str);
        };
        if (!config.password.empty()) {
            std::vector<std::string> auth{"AUTH"};
            if (!config.username.empty())
                auth.push_back(config.username);
            auth.push_back(config.password.reveal());
            expect_ok(auth, "authentication");
        }
        if (config.db != 0)
            expect_ok({"SELECT", std::to_string(config.db)}, "SELECT");
        return context;
    }

    // Asks the sentinels, in order, where the master is.
    HostPort sentinel_master(Duration dial_timeout, Duration read_timeout)
    {
        std::string errors;
        for (const HostPort &sentinel : config.sentinel_addrs) {
            try {
                Context context = open(sentinel, dial_timeout, read_timeout, false);
                auto reply = run(context.get(),
                                 {"SENTINEL", "get-master-addr-by-name", config.sentinel_master});
                if (!reply) {
                    errors += "; " + sentinel.to_string() + ": " +
                              context_error(context.get(), read_timeout);
                    continue;
                }
                if (reply->type == RedisReply::Type::array && reply->elements.size() == 2)
                    return HostPort{reply->elements[0].str, std::stoi(reply->elements[1].str)};
                errors +=
                    "; " + sentinel.to_string() + ": " +
                    (reply->is_error() ? reply->str
                                       : "does not know master \"" + config.sentinel_master + "\"");
            } catch (const RedisError &e) {
                errors += "; " + std::string(e.what());
            }
        }
        throw RedisConnectionError("no sentinel named the master \"" + config.sentinel_master +
                                   "\"" + errors);
    }

    void connect(Duration dial_timeout, Duration read_timeout)
    {
        context.reset();
        try {
            switch (config.mode()) {
            case RedisConfig::Mode::standalone:
                node = config.addr;
                context = open(node, dial_timeout, read_timeout, true);
                break;
            case RedisConfig::Mode::sentinel: {
                node = sentinel_master(dial_timeout, read_timeout);
                context = open(node, dial_timeout, read_timeout, true);
                auto role = run(context.get(), {"ROLE"});
                if (!role || role->elements.empty() || role->elements[0].str != "master") {
                    context.reset();
                    throw RedisConnectionError("the node " + node.to_string() +
                                               " the sentinels named is not a master (failover "
                                               "in progress?)");
                }
                break;
            }
            case RedisConfig::Mode::cluster: {
                std::vector<HostPort> candidates;
                if (redirect)
                    candidates.push_back(*redirect);
                candidates.insert(candidates.end(), config.cluster_addrs.begin(),
                                  config.cluster_addrs.end());
                std::string errors;
                for (const HostPort &candidate : candidates) {
                    try {
                        node = candidate;
                        context = open(node, dial_timeout, read_timeout, true);
                        break;
                    } catch (const RedisConnectionError &e) {
                        errors += std::string(errors.empty() ? "" : "; ") + e.what();
                    }
                }
                redirect.reset();
                if (!context)
                    throw RedisConnectionError("no cluster node answered: " + errors);
                break;
            }
            }
        } catch (const RedisError &e) {
            ++failures;
            next_attempt = Clock::now() + backoff();
            record_error(e.what());
            throw;
        }
        if (lost) {
            ++reconnects;
            logging::info("redis", "reconnected", {{logging::field::endpoint, node.to_string()}});
        }
        lost = false;
        ever_connected = true;
        failures = 0;
    }

    void ensure_connected()
    {
        if (context)
            return;
        auto now = Clock::now();
        if (now < next_attempt) {
            auto wait = std::chrono::duration_cast<Duration>(next_attempt - now);
            throw RedisConnectionError("Redis is unreachable; next reconnection attempt in " +
                                       format_duration(wait) + " (last error: " + last_error + ")");
        }
        connect(config.dial_timeout, config.read_timeout);
    }

    RedisReply execute(const std::vector<std::string> &arguments)
    {
        for (int redirects = 0;; ++redirects) {
            ensure_connected();
            auto reply = run(context.get(), arguments);
            if (!reply) {
                std::string why = "connection to Redis at " + node.to_string() +
                                  " failed: " + context_error(context.get(), config.read_timeout);
                drop(why);
                throw RedisConnectionError(why);
            }
            // Cluster: the key lives on another node; go there and ask again.
            if (reply->is_error() && config.mode() == RedisConfig::Mode::cluster &&
                starts_with_word(reply->str, "MOVED") && redirects < 3) {
                size_t space = reply->str.rfind(' ');
                try {
                    redirect = parse_host_port(reply->str.substr(space + 1));
                } catch (const std::invalid_argument &) {
                    return *reply;
                }
                context.reset();
                next_attempt = Clock::now();
                continue;
            }
            return *reply;
        }
    }
};

RedisClient::RedisClient(RedisConfig config) : state_(std::make_unique<State>(std::move(config))) {}

RedisClient::~RedisClient() = default;

void RedisClient::connect()
{
    std::lock_guard lock(state_->mutex);
    state_->connect(state_->config.dial_timeout, state_->config.read_timeout);
}

RedisReply RedisClient::command(const std::vector<std::string> &arguments)
{
    if (arguments.empty())
        throw RedisError("empty Redis command");
    std::lock_guard lock(state_->mutex);
    return state_->execute(arguments);
}

std::optional<std::string> RedisClient::get(std::string_view key)
{
    RedisReply reply = command("GET", key);
    if (reply.is_error())
        throw RedisError("GET failed: " + reply.str);
    if (reply.is_nil())
        return std::nullopt;
    return std::move(reply.str);
}

void RedisClient::set(std::string_view key, std::string_view value,
                      std::optional<std::chrono::milliseconds> ttl)
{
    RedisReply reply = ttl ? command("SET", key, value, "PX", std::to_string(ttl->count()))
                           : command("SET", key, value);
    if (reply.is_error())
        throw RedisError("SET failed: " + reply.str);
}

long long RedisClient::del(std::string_view key)
{
    RedisReply reply = command("DEL", key);
    if (reply.is_error())
        throw RedisError("DEL failed: " + reply.str);
    return reply.integer;
}

HealthResult RedisClient::check(Duration timeout)
{
    HealthResult result;
    result.component = "redis";
    auto started = Clock::now();
    auto finish = [&](HealthState state, std::string error) {
        result.state = state;
        result.error = std::move(error);
        if (!result.error.empty())
            state_->record_error(result.error);
        result.last_error = state_->last_error;
        result.last_error_at = state_->last_error_at;
        result.reconnecting = state_->ever_connected && !state_->context;
        result.latency =
            std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - started);
        result.checked_at = std::chrono::system_clock::now();
        return result;
    };
    std::lock_guard lock(state_->mutex);
    State &s = *state_;
    auto remaining = [&] {
        auto left = timeout - std::chrono::duration_cast<Duration>(Clock::now() - started);
        return std::max(left, Duration(1));
    };
    // One reconnection is allowed within the probe: a stale socket after a
    // server restart should not make a healthy server look down.
    for (int attempt = 0; attempt < 2; ++attempt) {
        if (!s.context) {
            try {
                s.connect(std::min(remaining(), s.config.dial_timeout), remaining());
            } catch (const RedisError &e) {
                return finish(HealthState::down, e.what());
            }
        }
        redisSetTimeout(s.context.get(), to_timeval(remaining()));
        auto reply = run(s.context.get(), {"PING"});
        if (!reply) {
            std::string why = "PING to " + s.node.to_string() +
                              " failed: " + context_error(s.context.get(), timeout);
            bool timed_out = why.find("timed out") != std::string::npos;
            s.drop(why);
            if (timed_out || Clock::now() - started >= timeout)
                return finish(HealthState::down, why);
            continue;
        }
        redisSetTimeout(s.context.get(), to_timeval(s.config.read_timeout));
        result.detail = "node=" + s.node.to_string();
        if (s.config.mode() == RedisConfig::Mode::sentinel)
            result.detail += " (master of \"" + s.config.sentinel_master + "\" via sentinel)";
        if (reply->is_error()) {
            bool busy = starts_with_word(reply->str, "LOADING") ||
                        starts_with_word(reply->str, "BUSY") ||
                        starts_with_word(reply->str, "MASTERDOWN");
            return finish(busy ? HealthState::degraded : HealthState::down,
                          "PING answered: " + reply->str);
        }
        if (s.config.mode() == RedisConfig::Mode::cluster) {
            auto info = run(s.context.get(), {"CLUSTER", "INFO"});
            if (info && !info->is_error() &&
                info->str.find("cluster_state:ok") == std::string::npos)
                return finish(HealthState::degraded, "cluster_state is not ok");
        }
        return finish(HealthState::up, "");
    }
    return finish(HealthState::down, s.last_error);
}

bool RedisClient::connected() const
{
    std::lock_guard lock(state_->mutex);
    return static_cast<bool>(state_->context);
}

std::string RedisClient::server_address() const
{
    std::lock_guard lock(state_->mutex);
    return state_->context ? state_->node.to_string() : std::string();
}

long long RedisClient::reconnects() const
{
    std::lock_guard lock(state_->mutex);
    return state_->reconnects;
}

}  // namespace stratum
