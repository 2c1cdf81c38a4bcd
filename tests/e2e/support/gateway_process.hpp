#pragma once
// Starting the real tickgate binary for end-to-end tests: fork/exec with arguments, stdout and
// stderr captured through pipes, the listening ports parsed from the start-up log, signals, and
// waiting for the exit code. Plus small file-system helpers (temporary directories, files).

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace e2e {

using namespace std::chrono_literals;
using Ms = std::chrono::milliseconds;

/// A fresh directory under $TMPDIR (or /tmp), removed with its contents on destruction.
class TempDir {
public:
    explicit TempDir(const std::string& prefix = "tickgate-e2e-");
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::string& path() const noexcept { return path_; }
    std::string file(const std::string& name) const { return path_ + "/" + name; }

private:
    std::string path_;
};

void write_file(const std::string& path, const std::string& text);
std::string read_file(const std::string& path);

/// The path of the tickgate binary under test.
std::string tickgate_binary();

/// Runs tickgate to completion (for --help, bad flags and other start-up failures).
struct RunResult {
    int exit_code = -1;  // -1 when it did not exit within the timeout (it is then killed)
    std::string out, err;
};
RunResult run_tickgate(const std::vector<std::string>& args, Ms timeout = 10s);

/// A running gateway. start() adds --listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 and a fresh
/// --state-dir unless told otherwise, then waits until both listeners are logged.
class GatewayProcess {
public:
    struct Options {
        bool ephemeral_ports = true;  // add --listen/--metrics-listen 127.0.0.1:0
        bool own_state_dir = true;    // add --state-dir <fresh temp dir>
        bool wait_ready = true;       // wait for "metrics on http://..."
        Ms ready_timeout = 10s;
        std::vector<std::string> env;  // extra "NAME=value" entries for the child's environment
    };

    GatewayProcess();
    ~GatewayProcess();  // SIGKILLs a process still running
    GatewayProcess(const GatewayProcess&) = delete;
    GatewayProcess& operator=(const GatewayProcess&) = delete;

    /// Returns false (with stderr kept) when the process exited or did not log its ports in time.
    bool start(const std::vector<std::string>& args, Options options);
    bool start(const std::vector<std::string>& args) { return start(args, Options{}); }

    pid_t pid() const noexcept { return pid_; }
    int ws_port() const noexcept { return ws_port_; }
    int metrics_port() const noexcept { return metrics_port_; }
    const std::string& ws_url() const noexcept { return ws_url_; }
    const std::string& state_dir() const noexcept { return state_dir_; }

    void signal(int sig);
    /// The exit code (128+N when killed by signal N), or nullopt when still running after `timeout`.
    std::optional<int> wait_exit(Ms timeout);
    bool running();

    /// Everything written to stderr so far.
    std::string stderr_text() const;
    /// Waits until stderr contains `needle` (counting only occurrences after byte `from`).
    bool wait_for_stderr(const std::string& needle, Ms timeout, std::size_t from = 0) const;
    std::size_t stderr_size() const;

private:
    void reader(int fd);

    pid_t pid_ = -1;
    std::optional<int> exit_code_;
    int ws_port_ = 0, metrics_port_ = 0;
    std::string ws_url_;
    std::string state_dir_;
    std::unique_ptr<TempDir> state_;
    std::thread reader_thread_;
    mutable std::mutex mutex_;
    mutable std::condition_variable changed_;
    std::string stderr_;
    bool stderr_closed_ = false;
};

/// The lines of `text` that contain `needle`.
std::vector<std::string> lines_with(const std::string& text, const std::string& needle);
/// The number of non-empty lines.
std::size_t count_lines(const std::string& text);

/// Binds a TCP listener on 127.0.0.1:0 and keeps it (for "address already in use").
class PortBlocker {
public:
    PortBlocker();
    ~PortBlocker();
    int port() const noexcept { return port_; }

private:
    int fd_ = -1;
    int port_ = 0;
};

/// A raw TCP connection (no TLS) for byte-level tests.
class RawTcp {
public:
    RawTcp() = default;
    ~RawTcp();
    RawTcp(const RawTcp&) = delete;
    RawTcp& operator=(const RawTcp&) = delete;
    bool connect(int port, const std::string& host = "127.0.0.1");
    bool send(const std::string& bytes);
    /// Waits for the peer to close (EOF or reset); returns the time it took, or nullopt at timeout.
    /// Any bytes received meanwhile are appended to received().
    std::optional<Ms> wait_closed(Ms timeout);
    const std::string& received() const noexcept { return received_; }
    /// Reads until received() contains `needle` or the timeout passes (or the peer closes).
    bool read_until(const std::string& needle, Ms timeout);

private:
    int fd_ = -1;
    std::string received_;
};

/// A value of a Prometheus sample: the first line starting with `name` followed by a space or
/// `{` (labels are matched when `labels` is not empty, e.g. "result=\"timeout\""). nullopt when absent.
std::optional<double> metric_value(const std::string& exposition, const std::string& name,
                                   const std::string& labels = "");

}  // namespace e2e
