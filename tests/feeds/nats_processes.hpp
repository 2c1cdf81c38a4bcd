#pragma once
// The real processes the NATS feed tests run against: Debian's nats-server on a free loopback port
// (JetStream in a temporary store when asked), and tickgate-feed, the publisher, built beside the
// tests (TICKGATE_FEED_BINARY). Each is stopped (SIGTERM, then SIGKILL) when its object goes.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace tickgate::feeds::testing {

inline int free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    ::close(fd);
    return ntohs(a.sin_port);
}

inline int connect_to(int port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

/// A child process with its stderr (and stdout) in a file, so a test can wait for a log line.
class ChildProcess {
public:
    ChildProcess() = default;
    ChildProcess(const ChildProcess&) = delete;
    ChildProcess& operator=(const ChildProcess&) = delete;
    ~ChildProcess() { stop(); }

    void start(const std::vector<std::string>& argv, const std::string& log_path) {
        log_path_ = log_path;
        // Everything the child needs is made before fork: after it, only exec.
        std::vector<char*> args;
        for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        const int log = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        pid_ = ::fork();
        if (pid_ == 0) {
            if (log >= 0) {
                ::dup2(log, 1);
                ::dup2(log, 2);
            }
            ::execv(args[0], args.data());
            ::_exit(127);
        }
        if (log >= 0) ::close(log);
    }

    /// SIGTERM, up to 5 s for the exit, then SIGKILL. Returns the exit status (waitpid's).
    int stop() {
        if (pid_ <= 0) return 0;
        ::kill(pid_, SIGTERM);
        int status = 0;
        for (int i = 0; i < 500; ++i) {
            if (::waitpid(pid_, &status, WNOHANG) == pid_) {
                pid_ = -1;
                return status;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
        pid_ = -1;
        return status;
    }

    bool running() const { return pid_ > 0; }
    void signal(int sig) const {
        if (pid_ > 0) ::kill(pid_, sig);
    }

    std::string log() const {
        std::ifstream f(log_path_);
        std::stringstream s;
        s << f.rdbuf();
        return s.str();
    }

    /// Waits (up to `timeout`) for `pattern` in the log; the first match's groups, or empty.
    std::smatch wait_for_log(const std::string& pattern, std::chrono::milliseconds timeout) {
        const std::regex re(pattern);
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        while (std::chrono::steady_clock::now() < deadline) {
            log_text_ = log();
            std::smatch m;
            if (std::regex_search(log_text_, m, re)) return m;
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        return {};
    }

private:
    pid_t pid_ = -1;
    std::string log_path_;
    std::string log_text_;  // what the last wait_for_log match views
};

inline std::string temp_path(const std::string& name) {
    static int counter = 0;
    return ::testing::TempDir() + "nats_" + std::to_string(::getpid()) + "_" + std::to_string(counter++) + "_" + name;
}

/// nats-server on 127.0.0.1 (a free port), with JetStream in a store of its own when asked.
/// restart() keeps the port and the store.
class NatsServer {
public:
    explicit NatsServer(bool jetstream = false) : jetstream_(jetstream) {
        if (jetstream_) {
            store_ = temp_path("store");
            std::filesystem::create_directories(store_);
        }
        start();
    }
    ~NatsServer() {
        process_.stop();
        if (!store_.empty()) std::filesystem::remove_all(store_);
    }
    int port() const { return port_; }
    std::string servers() const { return "127.0.0.1:" + std::to_string(port_); }
    void stop() { process_.stop(); }
    void start() {
        std::vector<std::string> argv = {"/usr/sbin/nats-server", "-a", "127.0.0.1", "-p", std::to_string(port_)};
        if (jetstream_) argv.insert(argv.end(), {"-js", "-sd", store_});
        process_.start(argv, temp_path("nats-server.log"));
    }
    /// Accepting connections (and, with JetStream, its store ready).
    bool wait_ready() {
        return !process_.wait_for_log("Server is ready", std::chrono::seconds(10)).empty();
    }

private:
    bool jetstream_;
    int port_ = free_port();
    std::string store_;
    ChildProcess process_;
};

/// tickgate-feed against a nats-server, metrics on a free port.
class FeedPublisher {
public:
    FeedPublisher(const NatsServer& nats, std::vector<std::string> flags) : nats_(nats), flags_(std::move(flags)) { start(); }
    void start() {
        std::vector<std::string> argv = {TICKGATE_FEED_BINARY, "--nats", nats_.servers(), "--metrics-listen", "127.0.0.1:0"};
        argv.insert(argv.end(), flags_.begin(), flags_.end());
        process_.start(argv, temp_path("tickgate-feed.log"));
    }
    int stop() { return process_.stop(); }
    /// Publishing, with its seqs restored and its publish requests served.
    bool wait_serving() {
        const auto m = process_.wait_for_log("metrics on http://127\\.0\\.0\\.1:(\\d+)/metrics[\\s\\S]*serving publish requests on",
                                             std::chrono::seconds(15));
        if (m.empty()) return false;
        metrics_port_ = std::stoi(m[1].str());
        return true;
    }
    int metrics_port() const { return metrics_port_; }
    std::string log() const { return process_.log(); }

private:
    const NatsServer& nats_;
    std::vector<std::string> flags_;
    ChildProcess process_;
    int metrics_port_ = 0;
};

/// GET http://127.0.0.1:port/metrics, the body.
inline std::string http_get_metrics(int port) {
    const int fd = connect_to(port);
    if (fd < 0) return {};
    const std::string req = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    if (::write(fd, req.data(), req.size()) != static_cast<ssize_t>(req.size())) {
        ::close(fd);
        return {};
    }
    std::string in;
    char buf[4096];
    for (ssize_t r; (r = ::read(fd, buf, sizeof buf)) > 0;) in.append(buf, static_cast<std::size_t>(r));
    ::close(fd);
    const auto body = in.find("\r\n\r\n");
    return body == std::string::npos ? std::string() : in.substr(body + 4);
}

/// The value of an unlabelled metric in a Prometheus text exposition, or -1.
inline double metric_value(const std::string& text, const std::string& name) {
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);)
        if (line.starts_with(name + " ")) return std::stod(line.substr(name.size() + 1));
    return -1;
}

}  // namespace tickgate::feeds::testing
