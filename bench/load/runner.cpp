#include "bench/load/runner.hpp"

#include <sys/resource.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <stdexcept>
#include <thread>

#include "bench/load/discover.hpp"
#include "bench/load/proc_stat.hpp"
#include "bench/load/result.hpp"
#include "bench/load/topic_choice.hpp"
#include "bench/load/worker.hpp"
#include "gateway/tls_socket.hpp"

namespace tickgate::load {
namespace {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;
constexpr long kSpareFds = 64;  // listening for nothing, but stdio, /proc reads, the discovery socket

std::atomic<bool> g_interrupted{false};
extern "C" void on_sigint(int) { g_interrupted = true; }

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

std::string utc_now() {
    char text[32];
    const std::time_t t = std::time(nullptr);
    std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
    return text;
}

/// Raises the soft open-file limit to the hard one; returns it.
long raise_fd_limit() {
    rlimit l{};
    if (getrlimit(RLIMIT_NOFILE, &l) != 0) return 0;
    l.rlim_cur = l.rlim_max;
    setrlimit(RLIMIT_NOFILE, &l);
    return static_cast<long>(l.rlim_cur);
}

void set_up(RunContext& run, Result& result) {
    const auto& o = run.options;
    result.fd_limit = raise_fd_limit();
    if (static_cast<long>(o.connections) + kSpareFds > result.fd_limit) {
        const std::string w = "--connections " + std::to_string(o.connections) + " needs about " +
                              std::to_string(o.connections + kSpareFds) + " file descriptors but this process may open " +
                              std::to_string(result.fd_limit) + " (RLIMIT_NOFILE hard limit): at most about " +
                              std::to_string(result.fd_limit - kSpareFds) +
                              " connections can open; run several tickgate-load processes or raise the hard limit";
        std::fprintf(stderr, "tickgate-load: warning: %s\n", w.c_str());
        result.warnings.push_back(w);
    }
    boost::system::error_code ec;
    auto address = asio::ip::make_address(o.url.host, ec);
    if (ec) {
        asio::io_context io;
        asio::ip::tcp::resolver resolver(io);
        const auto found = resolver.resolve(asio::ip::tcp::v4(), o.url.host, std::to_string(o.url.port), ec);
        if (ec || found.empty()) throw std::runtime_error("cannot resolve " + o.url.host + ": " + ec.message());
        address = found.begin()->endpoint().address();
    }
    run.server = asio::ip::tcp::endpoint(address, o.url.port);
    if (address.is_v4() && address.to_v4().is_loopback()) {
        // 127.0.0.2, 127.0.0.3, ...: every loopback address is local, each with its own ports.
        const auto base = asio::ip::make_address_v4("127.0.0.2").to_uint();
        for (unsigned i = 0; i < o.sources; ++i) run.sources.push_back(asio::ip::address_v4(base + i));
    }
    if (o.url.tls) {
        run.tls = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
        run.tls->set_options(asio::ssl::context::no_sslv2 | asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                             asio::ssl::context::no_tlsv1_1);
        if (o.ca_file.empty()) {
            run.tls->set_verify_mode(asio::ssl::verify_none);  // self-signed test certificates
        } else {
            run.tls->load_verify_file(o.ca_file);
            run.tls->set_verify_mode(asio::ssl::verify_peer);
        }
        gateway::prepare_tls_client_context(run.tls->native_handle());
    }
    run.topics = o.topics.empty() ? discover_topics(run) : o.topics;
    if (run.topics.empty()) throw std::runtime_error("the server lists no topics; give them with --topics");
    result.topics_available = run.topics.size();
    if (o.draws.empty()) {
        run.choices = choose_topics(run.topics.size(), o.connections, o.per_connection, o.distribution, o.seed);
        if (run.choices.empty()) throw std::runtime_error("bad --distribution " + o.distribution);
    } else {
        std::string error;
        run.choices = choose_grouped(run.topics, o.connections, o.draws, o.distribution, o.seed, error);
        if (run.choices.empty()) throw std::runtime_error(error);
    }
    if (!o.slow_topics.empty() && o.slow_mode != SlowMode::none) {
        // Subscribed as given (patterns too): appended to the list the choices index.
        std::vector<std::uint32_t> slow;
        for (const auto& t : o.slow_topics) {
            slow.push_back(static_cast<std::uint32_t>(run.topics.size()));
            run.topics.push_back(t);
        }
        for (std::size_t i = 0; i < o.connections; ++i)
            if (is_slow(i, o.slow_fraction)) run.choices[i] = slow;
    }
    for (std::size_t i = 0; i < o.connections; ++i) result.slow_connections += is_slow(i, o.slow_fraction) ? 1 : 0;
    if (o.slow_mode == SlowMode::none) result.slow_connections = 0;
}

struct CpuMark {
    std::vector<ProcSample> targets, threads;
    rusage self{};
};

CpuMark mark(const Options& o, const std::vector<std::unique_ptr<Worker>>& workers, Result& result) {
    CpuMark m;
    for (std::size_t i = 0; i < o.pids.size(); ++i) {
        auto s = read_proc_sample("/proc/" + std::to_string(o.pids[i]));
        if (!s) result.targets[i].gone = true;
        m.targets.push_back(s.value_or(ProcSample{}));
    }
    for (const auto& w : workers)
        m.threads.push_back(read_proc_sample("/proc/self/task/" + std::to_string(w->tid())).value_or(ProcSample{}));
    getrusage(RUSAGE_SELF, &m.self);
    return m;
}

double tv(const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; }

ThreadStats gather(const std::vector<std::unique_ptr<Worker>>& workers) {
    ThreadStats total;
    for (const auto& w : workers) total.merge(w->snapshot());
    return total;
}

void progress(double t, bool window, const ThreadStats& s, const Options& o, double rate, double cpu_share) {
    const auto p99 = s.latency[0].count() ? s.latency[0].quantile(0.99) / 1e6 : 0.0;
    std::fprintf(stderr,
                 "[%5.1fs] %s conns %llu/%u (failed %llu, disconnected %llu) | %.0f msgs/s | p99 %s%.3f ms | gaps %llu "
                 "| load cpu %.0f%%\n",
                 t, window ? "window" : "ramp  ", static_cast<unsigned long long>(s.open), o.connections,
                 static_cast<unsigned long long>(s.failures.total()), static_cast<unsigned long long>(s.disconnect_total()),
                 rate, window ? "" : "(ramp) ", p99, static_cast<unsigned long long>(s.seq[0].gaps + s.seq[1].gaps),
                 100 * cpu_share);
}

}  // namespace

int run_load(const Options& options) {
    Result result;
    result.options = options;
    result.started_at = utc_now();
    RunContext run;
    run.options = options;
    if (!options.latency_from.empty()) run.latency_key = "\"" + options.latency_from + "\":";
    auto finish = [&](int code) {
        if (!result.ok) std::fprintf(stderr, "tickgate-load: %s\n", result.error.c_str());
        if (!options.out.empty()) {
            std::ofstream out(options.out);
            out << to_json(result);
            if (!out) {
                std::fprintf(stderr, "tickgate-load: cannot write %s\n", options.out.c_str());
                return 1;
            }
        }
        return code;
    };
    try {
        set_up(run, result);
    } catch (const std::exception& e) {
        result.ok = false;
        result.error = std::string("cannot start: ") + e.what();
        return finish(1);
    }
    for (int pid : options.pids) {
        const auto s = read_proc_sample("/proc/" + std::to_string(pid));
        if (!s) {
            result.ok = false;
            result.error = "--pid " + std::to_string(pid) + ": no such process";
            return finish(1);
        }
        result.targets.push_back({pid, read_proc_name(pid), 0, 0, s->rss_kib, s->rss_kib, s->rss_kib, false});
    }
    std::signal(SIGINT, on_sigint);
    std::signal(SIGPIPE, SIG_IGN);

    std::vector<std::unique_ptr<Worker>> workers;
    for (unsigned i = 0; i < options.threads; ++i) workers.push_back(std::make_unique<Worker>(run, i, options.threads));
    std::vector<std::thread> threads;
    for (auto& w : workers) {
        w->start();
        threads.emplace_back([&w] { w->run(); });
    }
    while (std::any_of(workers.begin(), workers.end(), [](const auto& w) { return w->tid() == 0; }))
        std::this_thread::sleep_for(std::chrono::milliseconds(1));

    const auto begin = Clock::now();
    // The ramp may take connections / rate seconds, plus slack for handshakes still under way.
    const double ramp_limit = (options.connect_rate > 0 ? options.connections / options.connect_rate : 0) + 15;
    auto last_print = begin;
    std::uint64_t last_received = 0;
    rusage last_usage{};
    getrusage(RUSAGE_SELF, &last_usage);
    std::optional<Clock::time_point> ramp_done, window_start;
    CpuMark start_mark;
    ThreadStats at_end;
    while (true) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        const auto s = gather(workers);
        const double now_s = seconds_since(begin);
        const bool settled = options.churn || s.established + s.failures.total() >= options.connections;
        if (!ramp_done && (settled || now_s > ramp_limit || g_interrupted)) {
            ramp_done = Clock::now();
            result.ramp_s = now_s;
            if (!settled) result.warnings.push_back("the connection ramp had not settled after " + std::to_string(ramp_limit) + " s");
            if (s.established == 0 && !options.churn) {
                result.ok = false;
                result.error = "no connection could be established (" + std::to_string(s.failures.total()) + " failed)";
                at_end = s;
                break;
            }
        }
        if (ramp_done && !window_start && (seconds_since(*ramp_done) >= options.warmup_s || options.churn || g_interrupted)) {
            window_start = Clock::now();
            start_mark = mark(options, workers, result);
            run.in_window = true;
        }
        for (std::size_t i = 0; i < options.pids.size(); ++i)
            if (auto p = read_proc_sample("/proc/" + std::to_string(options.pids[i])))
                result.targets[i].rss_max_kib = std::max(result.targets[i].rss_max_kib, p->rss_kib);
        if (!options.quiet && seconds_since(last_print) >= 1.0) {
            const double dt = seconds_since(last_print);
            rusage usage{};
            getrusage(RUSAGE_SELF, &usage);
            const double cpu = tv(usage.ru_utime) + tv(usage.ru_stime) - tv(last_usage.ru_utime) - tv(last_usage.ru_stime);
            progress(now_s, window_start.has_value(), s, options, static_cast<double>(s.received - last_received) / dt, cpu / dt);
            last_print = Clock::now();
            last_received = s.received;
            last_usage = usage;
        }
        if (window_start) {
            const bool done = seconds_since(*window_start) >= options.duration_s || g_interrupted ||
                              (options.messages > 0 && s.delivered[0] + s.delivered[1] >= options.messages);
            if (done) break;
        }
    }
    if (window_start) {
        run.in_window = false;
        result.window_s = seconds_since(*window_start);
        const auto end_mark = mark(options, workers, result);
        for (std::size_t i = 0; i < options.pids.size(); ++i) {
            auto& t = result.targets[i];
            t.user_s = end_mark.targets[i].user_s - start_mark.targets[i].user_s;
            t.sys_s = end_mark.targets[i].sys_s - start_mark.targets[i].sys_s;
            t.rss_end_kib = end_mark.targets[i].rss_kib;
        }
        for (std::size_t i = 0; i < workers.size(); ++i) {
            const double cpu = end_mark.threads[i].cpu_s() - start_mark.threads[i].cpu_s();
            result.threads.push_back({cpu, result.window_s > 0 ? cpu / result.window_s : 0});
            if (result.threads.back().busy > 0.9)
                result.warnings.push_back("load thread " + std::to_string(i) + " was busy " +
                                          std::to_string(static_cast<int>(100 * result.threads.back().busy)) +
                                          "% of the window: tickgate-load may be the bottleneck (add --threads)");
        }
        result.self_user_s = tv(end_mark.self.ru_utime) - tv(start_mark.self.ru_utime);
        result.self_sys_s = tv(end_mark.self.ru_stime) - tv(start_mark.self.ru_stime);
        // Let the workers publish what they counted up to the window's end.
        std::this_thread::sleep_for(std::chrono::milliseconds(250));
        at_end = gather(workers);
    }
    result.self_rss_kib = read_proc_sample("/proc/self").value_or(ProcSample{}).rss_kib;
    if (window_start && options.slow_mode == SlowMode::stall && result.slow_connections > 0 && options.slow_drain_s > 0 &&
        !g_interrupted) {
        // Stalled clients read what the server kept for them (merged book deltas, conflated
        // tickers): their books and seqs are checked on it. Outside the window: no latency, no
        // delivered count, only the book, trade and seq accounting.
        run.draining = true;
        for (auto& w : workers) w->drain();
        std::this_thread::sleep_for(std::chrono::duration<double>(options.slow_drain_s));
        // What the stalled clients learn only by reading (a 1008 close during the window) counts too.
        const auto drained = gather(workers);
        at_end.open = drained.open;
        at_end.disconnects = drained.disconnects;
    }
    run.stopping = true;
    for (auto& w : workers) w->stop();
    for (auto& t : threads) t.join();
    result.totals = gather(workers);  // final: seq counts of every connection folded in
    result.totals.open = at_end.open;
    result.totals.disconnects = at_end.disconnects;
    if (result.totals.failures.fd_limit > 0)
        result.warnings.push_back(std::to_string(result.totals.failures.fd_limit) +
                                  " connections failed for want of file descriptors (limit " +
                                  std::to_string(result.fd_limit) + ")");
    if (result.totals.failures.no_port > 0)
        result.warnings.push_back("source addresses ran out of ephemeral ports: raise --sources");
    const auto negatives = result.totals.latency[0].negatives() + result.totals.latency[1].negatives();
    if (negatives > 0)
        result.warnings.push_back(std::to_string(negatives) + " updates carried a ts later than their receive time (clock skew?)");
    std::fputs(summary(result).c_str(), stdout);
    return finish(result.ok ? 0 : 1);
}

}  // namespace tickgate::load
