// What the health and HTTP tests share: a raw HTTP/1.1 client over loopback
// (raw so that tests can send what a polite client would not: chunked
// bodies, lying Content-Lengths, TRACE), a checker of the Prometheus text
// format, closed and silent ports, and a subprocess runner for the stratum
// command.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <stratum/config.hpp>

#include "socket_support.hpp"
#include "test_env.hpp"

namespace stratum::test {

// --- configuration ----------------------------------------------------------

// What a test configuration points at: the harness's servers unless told
// otherwise (a port of 0 means the harness's).
struct Topology {
    std::string dbname = "stratum_test";
    std::string user = "stratum_owner";
    int master_port = 0;
    bool replicas = true;
    bool redis = true;
    bool minio = true;
    int redis_port = 0;
    std::string bucket;  // "" = the harness's bucket
    std::string health = "{timeout: 2s, interval: 15s, max_replication_lag: 30s}";
    std::string extra;  // more top-level YAML (server:, production: ...)
};

inline std::string topology_yaml(const Topology &t)
{
    const std::string master_port =
        t.master_port != 0 ? std::to_string(t.master_port) : required_env("STRATUM_TEST_PGPORT");
    std::string yaml =
        "database:\n  postgres:\n    master: {host: 127.0.0.1, port: " + master_port +
        ", user: " + t.user + ", dbname: " + t.dbname + "}\n";
    if (t.replicas) {
        yaml += "    replicas:\n";
        for (const std::string &port : replica_ports())
            yaml += "      - {host: 127.0.0.1, port: " + port + "}\n";
    }
    if (t.redis) {
        const std::string addr =
            t.redis_port != 0 ? "127.0.0.1:" + std::to_string(t.redis_port) : redis_address();
        yaml += "  redis: {addr: \"" + addr + "\", dial_timeout: 1s, read_timeout: 1s}\n";
    }
    if (t.minio) {
        yaml += "  minio: {endpoint: \"" + required_env("STRATUM_TEST_S3_ENDPOINT") +
                "\", bucket: " +
                (t.bucket.empty() ? required_env("STRATUM_TEST_S3_BUCKET") : t.bucket) +
                ", access_key: " + required_env("STRATUM_TEST_S3_ACCESS_KEY") +
                ", secret_key: " + required_env("STRATUM_TEST_S3_SECRET_KEY") + ", timeout: 2s}\n";
    }
    yaml += "health: " + t.health + "\n";
    yaml += t.extra;
    return yaml;
}

// The configuration of `t`, read with only `env` as the environment.
inline Config topology_config(const Topology &t, std::map<std::string, std::string> env = {})
{
    LoadOptions options;
    options.env = std::move(env);
    return Config::parse(topology_yaml(t), "test.yaml", options);
}

// A file in a fresh directory under the system's temporary directory,
// removed with the object.
class TempFile {
public:
    TempFile(const std::string &name, const std::string &content)
    {
        char pattern[] = "/tmp/stratum-test-XXXXXX";
        dir_ = ::mkdtemp(pattern) != nullptr ? pattern : "/tmp";
        path_ = dir_ + "/" + name;
        FILE *file = std::fopen(path_.c_str(), "w");
        if (file == nullptr)
            throw std::runtime_error("cannot write " + path_);
        std::fwrite(content.data(), 1, content.size(), file);
        std::fclose(file);
    }
    ~TempFile()
    {
        std::remove(path_.c_str());
        ::rmdir(dir_.c_str());
    }
    TempFile(const TempFile &) = delete;
    TempFile &operator=(const TempFile &) = delete;
    const std::string &path() const { return path_; }

private:
    std::string dir_;
    std::string path_;
};

// A fresh directory under /tmp with files written into it, removed (with
// everything in it) with the object.
class TempDir {
public:
    TempDir()
    {
        char pattern[] = "/tmp/stratum-test-XXXXXX";
        if (::mkdtemp(pattern) == nullptr)
            throw std::runtime_error("mkdtemp failed");
        path_ = pattern;
    }
    ~TempDir()
    {
        std::error_code ignored;
        std::filesystem::remove_all(path_, ignored);
    }
    TempDir(const TempDir &) = delete;
    TempDir &operator=(const TempDir &) = delete;

    // Writes `relative` (creating its directories) with `content`.
    void write(const std::string &relative, const std::string &content) const
    {
        const std::filesystem::path file = path_ / relative;
        std::filesystem::create_directories(file.parent_path());
        FILE *out = std::fopen(file.c_str(), "w");
        if (out == nullptr)
            throw std::runtime_error("cannot write " + file.string());
        std::fwrite(content.data(), 1, content.size(), out);
        std::fclose(out);
    }
    std::string path() const { return path_.string(); }

private:
    std::filesystem::path path_;
};

// Runs SQL as superuser on the server at 127.0.0.1:port; fails the test on error.
inline std::string sql_at(const std::string &port, const std::string &sql,
                          const std::string &dbname = "postgres")
{
    std::unique_ptr<PGconn, decltype(&PQfinish)> conn(
        PQconnectdb(conninfo_at(port, "postgres", dbname).c_str()), &PQfinish);
    if (PQstatus(conn.get()) != CONNECTION_OK) {
        ADD_FAILURE() << "cannot connect to port " << port << ": " << PQerrorMessage(conn.get());
        return "";
    }
    std::unique_ptr<PGresult, decltype(&PQclear)> result(PQexec(conn.get(), sql.c_str()), &PQclear);
    const ExecStatusType status = PQresultStatus(result.get());
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
        ADD_FAILURE() << "SQL failed on port " << port << ": " << PQerrorMessage(conn.get()) << sql;
        return "";
    }
    if (status == PGRES_TUPLES_OK && PQntuples(result.get()) > 0)
        return PQgetvalue(result.get(), 0, 0);
    return "";
}

// --- HTTP -----------------------------------------------------------------------

struct HttpResponse {
    int status = 0;  // 0: no (parsable) answer
    std::string reason;
    std::multimap<std::string, std::string> headers;  // names lower-cased
    std::string body;
    std::string raw;  // everything received

    std::string header(const std::string &name) const
    {
        auto it = headers.find(name);
        return it == headers.end() ? "" : it->second;
    }
    bool has_header(const std::string &name) const { return headers.count(name) > 0; }
};

inline HttpResponse parse_response(const std::string &raw)
{
    HttpResponse response;
    response.raw = raw;
    const auto end_of_head = raw.find("\r\n\r\n");
    if (end_of_head == std::string::npos)
        return response;
    std::istringstream head(raw.substr(0, end_of_head));
    std::string line;
    std::getline(head, line);
    if (line.rfind("HTTP/1.1 ", 0) != 0 && line.rfind("HTTP/1.0 ", 0) != 0)
        return response;
    response.status = std::atoi(line.substr(9, 3).c_str());
    response.reason = line.size() > 13 ? line.substr(13) : "";
    while (std::getline(head, line)) {
        if (!line.empty() && line.back() == '\r')
            line.pop_back();
        const auto colon = line.find(':');
        if (colon == std::string::npos)
            continue;
        std::string name = line.substr(0, colon);
        for (char &c : name)
            c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        std::string value = line.substr(colon + 1);
        while (!value.empty() && value.front() == ' ')
            value.erase(0, 1);
        response.headers.emplace(name, value);
    }
    std::string body = raw.substr(end_of_head + 4);
    const auto length = response.headers.find("content-length");
    if (length != response.headers.end())
        body = body.substr(0, static_cast<std::size_t>(std::atoll(length->second.c_str())));
    response.body = body;
    return response;
}

// Reads one response: until its headers and Content-Length bytes of body
// have arrived (headers only for a HEAD request), the peer closes, or
// `timeout` passes.
inline std::string read_response(int fd, bool head, std::chrono::milliseconds timeout)
{
    std::string out;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    char buffer[8192];
    for (;;) {
        const auto end_of_head = out.find("\r\n\r\n");
        if (end_of_head != std::string::npos) {
            const HttpResponse so_far = parse_response(out);
            if (so_far.status == 100) {  // an interim answer: the real one follows
                out.erase(0, end_of_head + 4);
                continue;
            }
            const std::string length = so_far.header("content-length");
            if (head || (!length.empty() && out.size() - end_of_head - 4 >= std::stoull(length)))
                return out;
        }
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0)
            return out;
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(left.count())) <= 0)
            return out;
        ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
        if (n <= 0)
            return out;
        out.append(buffer, static_cast<std::size_t>(n));
    }
}

// Sends `raw` (a whole request, as bytes) and reads one answer.
inline HttpResponse raw_request(int port, const std::string &raw,
                                std::chrono::milliseconds timeout = std::chrono::seconds(20))
{
    int fd = connect_loopback(port);
    if (fd < 0)
        return {};
    send_all(fd, raw);
    std::string received = read_response(fd, raw.rfind("HEAD ", 0) == 0, timeout);
    ::close(fd);
    return parse_response(received);
}

// One request with Connection: close; `headers` are "Name: value" lines.
inline HttpResponse http(int port, const std::string &method, const std::string &path,
                         const std::vector<std::string> &headers = {},
                         const std::optional<std::string> &body = std::nullopt)
{
    std::string request = method + " " + path +
                          " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
                          "\r\nConnection: close\r\n";
    for (const std::string &header : headers)
        request += header + "\r\n";
    if (body)
        request += "Content-Length: " + std::to_string(body->size()) + "\r\n";
    request += "\r\n";
    if (body)
        request += *body;
    return raw_request(port, request);
}

// --- Prometheus text format 0.0.4 --------------------------------------------

struct Sample {
    std::string name;
    std::map<std::string, std::string> labels;
    double value = 0;
};

struct Exposition {
    std::vector<Sample> samples;
    std::map<std::string, std::string> types;  // family -> type
    std::vector<std::string> errors;           // empty when the text is valid

    // Samples of `name` whose labels include `match`.
    std::vector<Sample> find(const std::string &name,
                             const std::map<std::string, std::string> &match = {}) const
    {
        std::vector<Sample> out;
        for (const Sample &s : samples) {
            if (s.name != name)
                continue;
            bool all = true;
            for (const auto &[k, v] : match)
                all = all && s.labels.count(k) && s.labels.at(k) == v;
            if (all)
                out.push_back(s);
        }
        return out;
    }
};

inline bool valid_metric_name(const std::string &name)
{
    if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0])))
        return false;
    for (char c : name)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != ':')
            return false;
    return true;
}

inline std::optional<double> parse_sample_value(const std::string &text)
{
    if (text == "+Inf")
        return INFINITY;
    if (text == "-Inf")
        return -INFINITY;
    if (text == "NaN")
        return NAN;
    char *end = nullptr;
    double value = std::strtod(text.c_str(), &end);
    if (text.empty() || end != text.c_str() + text.size())
        return std::nullopt;
    return value;
}

// Parses and checks an exposition: HELP/TYPE lines, each family's TYPE before
// its samples and given once, sample lines `name{label="value",...} value`
// with valid names and escapes, and histograms whose buckets are cumulative,
// end with le="+Inf" equal to _count, and come with _sum.
inline Exposition parse_exposition(const std::string &text)
{
    Exposition out;
    std::set<std::string> seen_families;
    std::string current_family;
    std::istringstream lines(text);
    std::string line;
    int number = 0;
    auto fail = [&](const std::string &why) {
        out.errors.push_back("line " + std::to_string(number) + ": " + why + ": " + line);
    };
    if (!text.empty() && text.back() != '\n')
        out.errors.push_back("the text does not end with a newline");
    while (std::getline(lines, line)) {
        number++;
        if (line.empty()) {
            fail("empty line");
            continue;
        }
        if (line[0] == '#') {
            std::istringstream words(line);
            std::string hash, keyword, name;
            words >> hash >> keyword >> name;
            if (keyword != "HELP" && keyword != "TYPE")
                continue;  // a plain comment
            if (!valid_metric_name(name))
                fail("invalid metric name in " + keyword);
            if (keyword == "TYPE") {
                std::string type;
                words >> type;
                if (type != "counter" && type != "gauge" && type != "histogram" &&
                    type != "summary" && type != "untyped")
                    fail("unknown type");
                if (out.types.count(name))
                    fail("TYPE repeated");
                if (seen_families.count(name))
                    fail("TYPE after samples of the family");
                out.types[name] = type;
            }
            current_family = name;
            continue;
        }
        Sample sample;
        std::size_t i = 0;
        while (i < line.size() && line[i] != '{' && line[i] != ' ')
            i++;
        sample.name = line.substr(0, i);
        if (!valid_metric_name(sample.name))
            fail("invalid sample name");
        if (i < line.size() && line[i] == '{') {
            i++;
            while (i < line.size() && line[i] != '}') {
                std::size_t eq = line.find('=', i);
                if (eq == std::string::npos) {
                    fail("label without =");
                    break;
                }
                std::string label = line.substr(i, eq - i);
                if (label.empty() || !valid_metric_name(label) ||
                    label.find(':') != std::string::npos)
                    fail("invalid label name");
                if (eq + 1 >= line.size() || line[eq + 1] != '"') {
                    fail("label value not quoted");
                    break;
                }
                std::string value;
                std::size_t j = eq + 2;
                bool closed = false;
                for (; j < line.size(); j++) {
                    if (line[j] == '\\') {
                        if (j + 1 >= line.size() ||
                            (line[j + 1] != '\\' && line[j + 1] != '"' && line[j + 1] != 'n')) {
                            fail("bad escape in label value");
                            break;
                        }
                        value += line[j + 1] == 'n' ? '\n' : line[j + 1];
                        j++;
                    } else if (line[j] == '"') {
                        closed = true;
                        break;
                    } else {
                        value += line[j];
                    }
                }
                if (!closed) {
                    fail("unterminated label value");
                    break;
                }
                if (sample.labels.count(label))
                    fail("label repeated");
                sample.labels[label] = value;
                i = j + 1;
                if (i < line.size() && line[i] == ',')
                    i++;
            }
            if (i >= line.size() || line[i] != '}') {
                fail("labels not closed");
                continue;
            }
            i++;
        }
        if (i >= line.size() || line[i] != ' ') {
            fail("no value");
            continue;
        }
        std::string rest = line.substr(i + 1);
        std::string value_text =
            rest.substr(0, rest.find(' '));  // an optional timestamp may follow
        auto value = parse_sample_value(value_text);
        if (!value) {
            fail("value is not a number");
            continue;
        }
        sample.value = *value;
        // The family a sample belongs to: its name, or the histogram's base.
        std::string family = sample.name;
        for (const char *suffix : {"_bucket", "_sum", "_count"}) {
            const std::string s = suffix;
            if (family.size() > s.size() &&
                family.compare(family.size() - s.size(), s.size(), s) == 0 &&
                out.types.count(family.substr(0, family.size() - s.size())) &&
                out.types.at(family.substr(0, family.size() - s.size())) == "histogram") {
                family = family.substr(0, family.size() - s.size());
                break;
            }
        }
        if (!out.types.count(family))
            fail("sample without a TYPE line");
        if (family != current_family)
            fail("sample outside its family's block");
        seen_families.insert(family);
        out.samples.push_back(std::move(sample));
    }

    // Histograms: per label set (without le), cumulative buckets ending in +Inf == _count.
    for (const auto &[family, type] : out.types) {
        if (type != "histogram")
            continue;
        std::map<std::map<std::string, std::string>, std::vector<std::pair<double, double>>> series;
        for (const Sample &s : out.samples) {
            if (s.name != family + "_bucket")
                continue;
            auto labels = s.labels;
            if (!labels.count("le")) {
                out.errors.push_back(family + ": bucket without le");
                continue;
            }
            auto le = parse_sample_value(labels["le"]);
            labels.erase("le");
            if (!le) {
                out.errors.push_back(family + ": le is not a number");
                continue;
            }
            series[labels].push_back({*le, s.value});
        }
        if (series.empty())
            out.errors.push_back(family + ": histogram without buckets");
        for (const auto &[labels, buckets] : series) {
            for (std::size_t k = 1; k < buckets.size(); k++) {
                if (!(buckets[k].first > buckets[k - 1].first))
                    out.errors.push_back(family + ": bucket bounds not increasing");
                if (buckets[k].second < buckets[k - 1].second)
                    out.errors.push_back(family + ": buckets not cumulative");
            }
            if (!std::isinf(buckets.back().first))
                out.errors.push_back(family + ": last bucket is not +Inf");
            auto count = out.find(family + "_count", labels);
            auto sum = out.find(family + "_sum", labels);
            if (count.size() != 1 || sum.size() != 1)
                out.errors.push_back(family + ": _count or _sum missing");
            else if (count[0].value != buckets.back().second)
                out.errors.push_back(family + ": +Inf bucket differs from _count");
        }
    }
    return out;
}

// --- the stratum command as a subprocess --------------------------------------

struct CommandResult {
    int exit_code = -1;  // -1: killed by a signal or not run
    std::string out;
    std::string err;
};

// The stratum binary the build made ($STRATUM_TEST_BIN_DIR/stratum).
inline std::string stratum_binary()
{
    return required_env("STRATUM_TEST_BIN_DIR") + "/stratum";
}

// A running `stratum ...` with its stdout and stderr on pipes. `env` is
// added to (and overrides) the test's environment; a value of "" unsets.
class Subprocess {
public:
    Subprocess(const std::vector<std::string> &arguments,
               const std::map<std::string, std::string> &env)
    {
        int out_pipe[2], err_pipe[2];
        if (::pipe(out_pipe) != 0 || ::pipe(err_pipe) != 0)
            throw std::runtime_error("pipe failed");
        const std::string binary = stratum_binary();
        // Everything the child needs is built before fork(): between fork and
        // exec a multithreaded process may only make async-signal-safe calls.
        std::map<std::string, std::string> merged;
        for (char **entry = environ; *entry != nullptr; entry++) {
            const std::string text = *entry;
            const auto eq = text.find('=');
            if (eq != std::string::npos)
                merged[text.substr(0, eq)] = text.substr(eq + 1);
        }
        for (const auto &[name, value] : env) {
            if (value.empty())
                merged.erase(name);
            else
                merged[name] = value;
        }
        std::vector<std::string> env_text;
        for (const auto &[name, value] : merged)
            env_text.push_back(name + "=" + value);
        std::vector<char *> envp;
        for (std::string &entry : env_text)
            envp.push_back(entry.data());
        envp.push_back(nullptr);
        std::vector<std::string> argv_text{binary};
        argv_text.insert(argv_text.end(), arguments.begin(), arguments.end());
        std::vector<char *> argv;
        for (std::string &argument : argv_text)
            argv.push_back(argument.data());
        argv.push_back(nullptr);
        sigset_t none;
        sigemptyset(&none);
        pid_ = ::fork();
        if (pid_ == 0) {
            ::dup2(out_pipe[1], 1);
            ::dup2(err_pipe[1], 2);
            ::close(out_pipe[0]);
            ::close(err_pipe[0]);
            ::close(out_pipe[1]);
            ::close(err_pipe[1]);
            ::sigprocmask(SIG_SETMASK, &none, nullptr);
            ::execve(argv[0], argv.data(), envp.data());
            ::_exit(127);
        }
        ::close(out_pipe[1]);
        ::close(err_pipe[1]);
        out_fd_ = out_pipe[0];
        err_fd_ = err_pipe[0];
        ::fcntl(out_fd_, F_SETFL, O_NONBLOCK);
        ::fcntl(err_fd_, F_SETFL, O_NONBLOCK);
    }
    ~Subprocess()
    {
        if (pid_ > 0 && exit_code_ == std::nullopt) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
        }
        ::close(out_fd_);
        ::close(err_fd_);
    }
    Subprocess(const Subprocess &) = delete;
    Subprocess &operator=(const Subprocess &) = delete;

    pid_t pid() const { return pid_; }

    // Waits (up to `timeout`) for a line of stdout containing `text`; the line or "".
    std::string wait_for_output(const std::string &text, std::chrono::milliseconds timeout)
    {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        for (;;) {
            drain();
            std::istringstream lines(out_);
            std::string line;
            while (std::getline(lines, line))
                if (line.find(text) != std::string::npos)
                    return line;
            if (std::chrono::steady_clock::now() > deadline || exited())
                return "";
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
    }

    void signal(int number) { ::kill(pid_, number); }

    // Waits up to `timeout` for the exit; nullopt when still running.
    std::optional<int> wait(std::chrono::milliseconds timeout)
    {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        while (!exited()) {
            drain();
            if (std::chrono::steady_clock::now() > deadline)
                return std::nullopt;
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        drain();
        return exit_code_;
    }

    const std::string &out()
    {
        drain();
        return out_;
    }
    const std::string &err()
    {
        drain();
        return err_;
    }

private:
    bool exited()
    {
        if (exit_code_)
            return true;
        int status = 0;
        if (::waitpid(pid_, &status, WNOHANG) == pid_) {
            exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
            return true;
        }
        return false;
    }
    void drain()
    {
        char buffer[4096];
        ssize_t n;
        while ((n = ::read(out_fd_, buffer, sizeof buffer)) > 0)
            out_.append(buffer, static_cast<std::size_t>(n));
        while ((n = ::read(err_fd_, buffer, sizeof buffer)) > 0)
            err_.append(buffer, static_cast<std::size_t>(n));
    }

    pid_t pid_ = -1;
    int out_fd_ = -1;
    int err_fd_ = -1;
    std::string out_, err_;
    std::optional<int> exit_code_;
};

// Runs `stratum arguments...` to completion (at most `timeout`).
inline CommandResult run_stratum(const std::vector<std::string> &arguments,
                                 const std::map<std::string, std::string> &env,
                                 std::chrono::milliseconds timeout = std::chrono::seconds(60))
{
    Subprocess process(arguments, env);
    CommandResult result;
    auto code = process.wait(timeout);
    result.exit_code = code.value_or(-1);
    result.out = process.out();
    result.err = process.err();
    return result;
}

}  // namespace stratum::test
