#include "gateway_process.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>

#ifndef TICKGATE_BINARY
#define TICKGATE_BINARY "tickgate"
#endif

extern "C" char** environ;

namespace e2e {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

TempDir::TempDir(const std::string& prefix) {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/" + prefix + "XXXXXX";
    std::vector<char> buf(pattern.begin(), pattern.end());
    buf.push_back('\0');
    if (!::mkdtemp(buf.data())) throw std::runtime_error("mkdtemp failed: " + std::string(std::strerror(errno)));
    path_ = buf.data();
}

TempDir::~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
}

void write_file(const std::string& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out) throw std::runtime_error("cannot write " + path);
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

std::string tickgate_binary() {
    if (const char* env = std::getenv("TICKGATE_BIN"); env && *env) return env;
    return TICKGATE_BINARY;
}

namespace {

std::vector<char*> make_argv(const std::vector<std::string>& args, std::vector<std::string>& storage) {
    storage.clear();
    storage.push_back(tickgate_binary());
    storage.insert(storage.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& s : storage) argv.push_back(s.data());
    argv.push_back(nullptr);
    return argv;
}

/// fork/exec with stdout -> out_fd (or /dev/null when -1), stderr -> err_fd.
pid_t spawn(const std::vector<std::string>& args, int out_fd, int err_fd, const std::vector<int>& close_in_child,
            const std::vector<std::string>& extra_env = {}) {
    std::vector<std::string> storage;
    auto argv = make_argv(args, storage);
    std::vector<std::string> env_storage;
    for (char** e = environ; *e; ++e) {
        const std::string entry(*e);
        const auto name = entry.substr(0, entry.find('=') + 1);
        const bool overridden = std::any_of(extra_env.begin(), extra_env.end(),
                                            [&](const std::string& x) { return x.rfind(name, 0) == 0; });
        if (!overridden) env_storage.push_back(entry);
    }
    env_storage.insert(env_storage.end(), extra_env.begin(), extra_env.end());
    std::vector<char*> envp;
    for (auto& e : env_storage) envp.push_back(e.data());
    envp.push_back(nullptr);
    const pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {
        const int devnull = ::open("/dev/null", O_RDWR);
        ::dup2(devnull, STDIN_FILENO);
        ::dup2(out_fd >= 0 ? out_fd : devnull, STDOUT_FILENO);
        ::dup2(err_fd, STDERR_FILENO);
        for (int fd : close_in_child) ::close(fd);
        // Sockets the test process holds (clients of another gateway) must not leak into this one.
        for (int fd = 3; fd < 1024; ++fd) ::close(fd);
        // Do not inherit a blocked or ignored SIGHUP/SIGTERM from the test runner.
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        ::signal(SIGHUP, SIG_DFL);
        ::signal(SIGTERM, SIG_DFL);
        ::signal(SIGPIPE, SIG_DFL);
        ::execve(argv[0], argv.data(), envp.data());
        std::fprintf(stderr, "exec %s failed: %s\n", argv[0], std::strerror(errno));
        ::_exit(127);
    }
    return pid;
}

int decode_status(int status) {
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return -1;
}

}  // namespace

RunResult run_tickgate(const std::vector<std::string>& args, Ms timeout) {
    int out_pipe[2], err_pipe[2];
    if (::pipe2(out_pipe, O_CLOEXEC) != 0 || ::pipe2(err_pipe, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
    const pid_t pid = spawn(args, out_pipe[1], err_pipe[1], {out_pipe[0], err_pipe[0]});
    ::close(out_pipe[1]);
    ::close(err_pipe[1]);
    RunResult r;
    const auto deadline = Clock::now() + timeout;
    bool out_open = true, err_open = true;
    while ((out_open || err_open) && Clock::now() < deadline) {
        pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
        const int left = static_cast<int>(std::chrono::duration_cast<Ms>(deadline - Clock::now()).count());
        if (::poll(fds, 2, std::max(left, 1)) <= 0) continue;
        char buf[4096];
        for (int i = 0; i < 2; ++i) {
            if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            const ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
            if (n > 0) (i == 0 ? r.out : r.err).append(buf, static_cast<std::size_t>(n));
            else (i == 0 ? out_open : err_open) = false;
        }
    }
    ::close(out_pipe[0]);
    ::close(err_pipe[0]);
    int status = 0;
    while (Clock::now() < deadline) {
        const pid_t done = ::waitpid(pid, &status, WNOHANG);
        if (done == pid) {
            r.exit_code = decode_status(status);
            return r;
        }
        std::this_thread::sleep_for(5ms);
    }
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
    r.exit_code = -1;
    return r;
}

GatewayProcess::GatewayProcess() = default;

GatewayProcess::~GatewayProcess() {
    if (pid_ > 0 && !exit_code_) {
        ::kill(pid_, SIGKILL);
        int status = 0;
        ::waitpid(pid_, &status, 0);
    }
    if (reader_thread_.joinable()) reader_thread_.join();
}

bool GatewayProcess::start(const std::vector<std::string>& user_args, Options options) {
    std::vector<std::string> args;
    if (options.ephemeral_ports) args.insert(args.end(), {"--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0"});
    if (options.own_state_dir) {
        state_ = std::make_unique<TempDir>("tickgate-e2e-state-");
        state_dir_ = state_->path();
        args.insert(args.end(), {"--state-dir", state_dir_});
    }
    args.insert(args.end(), user_args.begin(), user_args.end());
    // CI runs the suite once per backend (scripts/test.sh); a test that names its own keeps it.
    if (const char* backend = std::getenv("TICKGATE_IO_BACKEND");
        backend && *backend && std::find(args.begin(), args.end(), "--io-backend") == args.end())
        args.insert(args.end(), {"--io-backend", backend});
    int err_pipe[2];
    if (::pipe2(err_pipe, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
    pid_ = spawn(args, -1, err_pipe[1], {err_pipe[0]}, options.env);
    ::close(err_pipe[1]);
    reader_thread_ = std::thread([this, fd = err_pipe[0]] { reader(fd); });
    if (!options.wait_ready) return true;

    static const std::regex listening(R"(listening on (wss?)://127\.0\.0\.1:(\d+)/ws)");
    static const std::regex metrics(R"(metrics on http://127\.0\.0\.1:(\d+)/metrics)");
    std::unique_lock lock(mutex_);
    const bool ok = changed_.wait_for(lock, options.ready_timeout, [&] {
        return stderr_closed_ || std::regex_search(stderr_, metrics);
    });
    std::smatch m;
    if (!ok || !std::regex_search(stderr_, m, listening)) return false;
    ws_port_ = std::stoi(m[2].str());
    ws_url_ = m[0].str().substr(std::string("listening on ").size());
    if (!std::regex_search(stderr_, m, metrics)) return false;
    metrics_port_ = std::stoi(m[1].str());
    return true;
}

void GatewayProcess::reader(int fd) {
    char buf[4096];
    for (;;) {
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        std::lock_guard lock(mutex_);
        if (n <= 0) {
            stderr_closed_ = true;
            changed_.notify_all();
            break;
        }
        stderr_.append(buf, static_cast<std::size_t>(n));
        changed_.notify_all();
    }
    ::close(fd);
}

void GatewayProcess::signal(int sig) {
    if (pid_ > 0 && !exit_code_) ::kill(pid_, sig);
}

std::optional<int> GatewayProcess::wait_exit(Ms timeout) {
    if (exit_code_ || pid_ <= 0) return exit_code_;
    const auto deadline = Clock::now() + timeout;
    for (;;) {
        int status = 0;
        const pid_t done = ::waitpid(pid_, &status, WNOHANG);
        if (done == pid_) {
            exit_code_ = decode_status(status);
            break;
        }
        if (Clock::now() >= deadline) return std::nullopt;
        std::this_thread::sleep_for(2ms);
    }
    if (reader_thread_.joinable()) reader_thread_.join();
    return exit_code_;
}

bool GatewayProcess::running() { return pid_ > 0 && !wait_exit(0ms); }

std::string GatewayProcess::stderr_text() const {
    std::lock_guard lock(mutex_);
    return stderr_;
}

std::size_t GatewayProcess::stderr_size() const {
    std::lock_guard lock(mutex_);
    return stderr_.size();
}

bool GatewayProcess::wait_for_stderr(const std::string& needle, Ms timeout, std::size_t from) const {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] {
        return stderr_.find(needle, std::min(from, stderr_.size())) != std::string::npos || stderr_closed_;
    }) && stderr_.find(needle, std::min(from, stderr_.size())) != std::string::npos;
}

std::vector<std::string> lines_with(const std::string& text, const std::string& needle) {
    std::vector<std::string> out;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line))
        if (line.find(needle) != std::string::npos) out.push_back(line);
    return out;
}

std::size_t count_lines(const std::string& text) {
    std::size_t n = 0;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line))
        if (!line.empty()) ++n;
    return n;
}

PortBlocker::PortBlocker() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd_, 4) != 0)
        throw std::runtime_error("cannot bind a port");
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
}

PortBlocker::~PortBlocker() {
    if (fd_ >= 0) ::close(fd_);
}

RawTcp::~RawTcp() {
    if (fd_ >= 0) ::close(fd_);
}

bool RawTcp::connect(int port, const std::string& host) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    ::inet_pton(AF_INET, host.c_str(), &a.sin_addr);
    return ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
}

bool RawTcp::send(const std::string& bytes) {
    std::size_t off = 0;
    while (off < bytes.size()) {
        const ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
        if (n <= 0) return false;
        off += static_cast<std::size_t>(n);
    }
    return true;
}

std::optional<Ms> RawTcp::wait_closed(Ms timeout) {
    const auto start = Clock::now();
    const auto deadline = start + timeout;
    while (Clock::now() < deadline) {
        pollfd p{fd_, POLLIN, 0};
        const int left = static_cast<int>(std::chrono::duration_cast<Ms>(deadline - Clock::now()).count());
        if (::poll(&p, 1, std::max(left, 1)) <= 0) continue;
        char buf[4096];
        const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
        if (n > 0) {
            received_.append(buf, static_cast<std::size_t>(n));
            continue;
        }
        if (n == 0 || (errno != EINTR && errno != EAGAIN)) return std::chrono::duration_cast<Ms>(Clock::now() - start);
    }
    return std::nullopt;
}

bool RawTcp::read_until(const std::string& needle, Ms timeout) {
    const auto deadline = Clock::now() + timeout;
    while (received_.find(needle) == std::string::npos) {
        const auto now = Clock::now();
        if (now >= deadline) return false;
        pollfd p{fd_, POLLIN, 0};
        const int left = static_cast<int>(std::chrono::duration_cast<Ms>(deadline - now).count());
        if (::poll(&p, 1, std::max(left, 1)) <= 0) continue;
        char buf[4096];
        const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
        if (n > 0) received_.append(buf, static_cast<std::size_t>(n));
        else if (n == 0 || (errno != EINTR && errno != EAGAIN)) return received_.find(needle) != std::string::npos;
    }
    return true;
}

std::optional<double> metric_value(const std::string& exposition, const std::string& name, const std::string& labels) {
    std::istringstream in(exposition);
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty() || line[0] == '#') continue;
        if (line.compare(0, name.size(), name) != 0 || line.size() <= name.size()) continue;
        const char next = line[name.size()];
        if (next != ' ' && next != '{') continue;
        if (!labels.empty()) {
            const auto close = line.find('}');
            if (next != '{' || close == std::string::npos) continue;
            if (line.substr(name.size(), close - name.size()).find(labels) == std::string::npos) continue;
        }
        const auto space = line.rfind(' ');
        try {
            return std::stod(line.substr(space + 1));
        } catch (...) {
            return std::nullopt;
        }
    }
    return std::nullopt;
}

}  // namespace e2e
