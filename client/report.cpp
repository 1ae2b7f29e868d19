#include "report.h"

#include "console_output.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace wire::client {

namespace {

std::string fixed(double value, int decimals) {
    if (!std::isfinite(value)) {
        value = 0;  // JSON has no NaN or infinity
    }
    char buffer[64];
    std::snprintf(buffer, sizeof(buffer), "%.*f", decimals, value);
    return buffer;
}

// A JSON string: quotes, backslashes and control characters escaped.
std::string json_string(const std::string& text) {
    std::string out = "\"";
    for (const char c : text) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (static_cast<unsigned char>(c) < 0x20) {
            char escaped[8];
            std::snprintf(escaped, sizeof(escaped), "\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(c)));
            out += escaped;
        } else {
            out += c;
        }
    }
    return out + "\"";
}

double per_second(double amount, double seconds) noexcept { return seconds > 0 ? amount / seconds : 0.0; }

std::string row(const std::string& label, const std::string& value) {
    std::string line = "  " + label;
    line.resize(std::max<std::size_t>(line.size() + 1, 18), ' ');
    return line + value + "\n";
}

}  // namespace

std::string progress_line(const options& opts, const progress_sample& s) {
    std::string line = "[client " + fixed(s.elapsed, 1) + "s] " + std::to_string(s.active) +
                       (opts.mode == mode::churn ? " loops, " : opts.udp ? " sockets, " : " connections, ") +
                       fixed(per_second(static_cast<double>(s.messages), s.interval), 0) + " msgs/s, " +
                       fixed(per_second(static_cast<double>(s.payload_bytes), s.interval) / 1e6, 2) + " MB/s";
    if (opts.mode == mode::churn) {
        line += ", " + fixed(per_second(static_cast<double>(s.connects), s.interval), 0) + " connects/s";
    }
    return line + ", errors " + std::to_string(s.errors) + ", mismatches " + std::to_string(s.mismatches);
}

std::string summary_table(const options& opts, const run_result& r) {
    std::string out = "client: " + std::string(to_string(opts.mode)) + (opts.udp ? " (UDP)" : opts.tls ? " (TLS)" : "") +
                      " against " + opts.server.to_string() + "\n";
    out += row("connections", std::to_string(opts.connections) + (opts.mode == mode::churn ? " loops" : ""));
    out += row("size", std::to_string(opts.size) + " bytes" + (opts.mode == mode::frame ? " (+4 header)" : ""));
    if (opts.mode != mode::churn) {
        out += row("pipeline", std::to_string(opts.pipeline));
    }
    out += row("seconds", fixed(r.seconds, 2));
    out += row("messages", std::to_string(r.messages) + (r.mismatches == 0 ? ", every byte verified" : ""));
    out += row("msgs/s", fixed(per_second(static_cast<double>(r.messages), r.seconds), 0));
    out += row("MB/s", fixed(per_second(static_cast<double>(r.payload_bytes), r.seconds) / 1e6, 2) +
                           " (payload echoed back, 1 MB = 10^6 bytes)");
    if (opts.mode == mode::churn) {
        out += row("connects/s", fixed(per_second(static_cast<double>(r.connects), r.seconds), 0));
    }
    out += row("latency us", "p50 " + fixed(r.p50_us, 1) + "  p99 " + fixed(r.p99_us, 1) + "  p99.9 " +
                                 fixed(r.p999_us, 1) + "  max " + fixed(r.max_us, 1));
    if (opts.udp) {
        out += row("lost", std::to_string(r.lost) + " datagrams never answered");
    }
    if (opts.tls) {
        out += row("tls", r.tls_protocol.empty() ? std::string("no connection completed its handshake")
                                                 : r.tls_protocol + ", " + r.tls_cipher +
                                                       (r.tls_alpn.empty() ? "" : ", ALPN " + r.tls_alpn));
    }
    out += row("errors", std::to_string(r.errors));
    out += row("mismatches", std::to_string(r.mismatches));
    return out;
}

std::string json_line(const options& opts, const run_result& r) {
    std::string out = "{\"connections\": " + std::to_string(opts.connections) + ", \"size\": " + std::to_string(opts.size) +
                      ", \"pipeline\": " + std::to_string(opts.pipeline) + ", \"seconds\": " + fixed(r.seconds, 3) +
                      ", \"messages\": " + std::to_string(r.messages) +
                      ", \"msgs_per_s\": " + fixed(per_second(static_cast<double>(r.messages), r.seconds), 1) +
                      ", \"mb_per_s\": " + fixed(per_second(static_cast<double>(r.payload_bytes), r.seconds) / 1e6, 3) +
                      ", \"p50_us\": " + fixed(r.p50_us, 1) + ", \"p99_us\": " + fixed(r.p99_us, 1) +
                      ", \"p999_us\": " + fixed(r.p999_us, 1) + ", \"errors\": " + std::to_string(r.errors) +
                      ", \"mismatches\": " + std::to_string(r.mismatches);
    if (opts.mode == mode::churn) {
        out += ", \"connects_per_s\": " + fixed(per_second(static_cast<double>(r.connects), r.seconds), 1);
    }
    if (opts.udp) {
        out += ", \"lost\": " + std::to_string(r.lost);
    }
    if (opts.tls) {
        out += ", \"tls_protocol\": " + json_string(r.tls_protocol) + ", \"tls_cipher\": " + json_string(r.tls_cipher);
    }
    return out + "}";
}

run_result collect(const run_counters& c, const latency_histogram& latency, double seconds) {
    run_result result;
    result.seconds = seconds;
    result.messages = c.messages.load();
    result.payload_bytes = c.payload_bytes.load();
    result.errors = c.errors.load();
    result.mismatches = c.mismatches.load();
    result.connects = c.connects.load();
    result.p50_us = latency.percentile_us(0.50);
    result.p99_us = latency.percentile_us(0.99);
    result.p999_us = latency.percentile_us(0.999);
    result.max_us = latency.max_us();
    return result;
}

int conclude(const options& opts, const run_result& result) {
    print_stdout(opts.json ? json_line(opts, result) + "\n" : summary_table(opts, result));
    if (result.messages == 0) {
        print_stderr_line("client: no message completed a round trip");
        return 1;
    }
    return result.errors == 0 && result.mismatches == 0 ? 0 : 1;
}

}  // namespace wire::client
