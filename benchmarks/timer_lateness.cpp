// timer_lateness/*: how late a one-shot timer runs — the engine's timers (on its workers, no timer
// thread) against Asio's steady_timer (its Windows backend waits in a thread of its own) — with the
// same posted work keeping both sides' threads busy. Each run sets `timers` one-shot timers of
// `delay` back to back (the next is set from the previous one's callback) and records how long
// after its deadline each ran. Reported: p50/p99/max lateness in microseconds; read them as a ratio
// between the two rows of the same run. Unlike the echo families, no server process and no load
// driver: everything runs in this process (under Wine for the engine, which is Windows code).
#include <wire/wire.h>

#include <asio.hpp>
#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

using clock = std::chrono::steady_clock;
constexpr unsigned worker_threads = 2;
// The load: this many posted work items per second, each busy for `work_cost`.
constexpr int load_per_second = 2000;
constexpr std::chrono::microseconds work_cost{50};

void busy_for(std::chrono::microseconds cost) {
    const auto until = clock::now() + cost;
    while (clock::now() < until) {
    }
}

// Posts the load through `post` from a thread of its own until stopped.
class background_load {
public:
    explicit background_load(std::function<void(std::function<void()>)> post) : post_(std::move(post)) {
        thread_ = std::thread([this] { run(); });
    }
    ~background_load() {
        stopping_ = true;
        thread_.join();
    }
    background_load(const background_load&) = delete;
    background_load& operator=(const background_load&) = delete;

private:
    void run() {
        const auto period = std::chrono::microseconds(1'000'000 / load_per_second);
        auto next = clock::now();
        while (!stopping_) {
            post_([] { busy_for(work_cost); });
            next += period;
            std::this_thread::sleep_until(next);
        }
    }
    std::function<void(std::function<void()>)> post_;
    std::atomic<bool> stopping_{false};
    std::thread thread_;
};

// Collects the lateness of `count` timers and wakes the benchmark when all ran.
class lateness_log {
public:
    explicit lateness_log(std::size_t count) : count_(count) { samples_.reserve(count); }
    // Returns false once enough have been recorded.
    bool record(clock::time_point deadline) {
        const auto late = std::chrono::duration<double, std::micro>(clock::now() - deadline).count();
        std::lock_guard lock(mutex_);
        samples_.push_back(late);
        if (samples_.size() < count_) {
            return true;
        }
        done_.notify_all();
        return false;
    }
    void wait() {
        std::unique_lock lock(mutex_);
        done_.wait(lock, [this] { return samples_.size() >= count_; });
    }
    void report(benchmark::State& state) {
        std::sort(samples_.begin(), samples_.end());
        const auto at = [this](double q) { return samples_[std::min(samples_.size() - 1, static_cast<std::size_t>(q * static_cast<double>(samples_.size())))]; };
        state.counters["p50_us"] = at(0.50);
        state.counters["p99_us"] = at(0.99);
        state.counters["max_us"] = samples_.back();
        state.counters["timers"] = static_cast<double>(samples_.size());
    }

private:
    std::size_t count_;
    std::mutex mutex_;
    std::condition_variable done_;
    std::vector<double> samples_;
};

std::size_t timer_count(std::chrono::milliseconds delay) { return delay.count() >= 10 ? 100 : 400; }

void engine_timer(benchmark::State& state, long delay_ms) {
    const std::chrono::milliseconds delay(delay_ms);
    wire::engine_options options;
    options.worker_threads = worker_threads;
    for (auto _ : state) {
        wire::engine engine(options);
        background_load load([&engine](std::function<void()> work) { (void)engine.post(std::move(work)); });
        lateness_log log(timer_count(delay));
        std::function<void()> arm = [&] {
            const auto deadline = clock::now() + delay;
            engine.after(delay, [&, deadline] {
                if (log.record(deadline)) {
                    arm();
                }
            });
        };
        arm();
        log.wait();
        log.report(state);
    }
}

void asio_timer(benchmark::State& state, long delay_ms) {
    const std::chrono::milliseconds delay(delay_ms);
    for (auto _ : state) {
        asio::io_context io(static_cast<int>(worker_threads));
        auto guard = asio::make_work_guard(io);
        std::vector<std::thread> threads;
        for (unsigned i = 0; i < worker_threads; ++i) {
            threads.emplace_back([&io] { io.run(); });
        }
        {
            background_load load([&io](std::function<void()> work) { asio::post(io, std::move(work)); });
            lateness_log log(timer_count(delay));
            asio::steady_timer timer(io);
            std::function<void()> arm = [&] {
                timer.expires_after(delay);
                const auto deadline = timer.expiry();
                timer.async_wait([&, deadline](const std::error_code& ec) {
                    if (!ec && log.record(deadline)) {
                        arm();
                    }
                });
            };
            asio::post(io, arm);
            log.wait();
            log.report(state);
        }
        guard.reset();
        io.stop();
        for (auto& t : threads) {
            t.join();
        }
    }
}

// Named family/parameters/kind like the echo families, so tools/bench.py pairs the two rows.
const bool registered = [] {
    for (const long delay : {1L, 10L}) {
        const std::string scenario = "timer_lateness/delay_ms:" + std::to_string(delay);
        benchmark::RegisterBenchmark((scenario + "/engine").c_str(), engine_timer, delay)->Iterations(1)->Unit(benchmark::kMillisecond);
        benchmark::RegisterBenchmark((scenario + "/asio").c_str(), asio_timer, delay)->Iterations(1)->Unit(benchmark::kMillisecond);
    }
    return true;
}();

}  // namespace
