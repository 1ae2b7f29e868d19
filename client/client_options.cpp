#include "client_options.h"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <ostream>
#include <string>
#include <system_error>

namespace wire::client {

namespace {

constexpr double max_seconds = 1e7;  // keeps the conversion to milliseconds far from overflow

// Validators that say what is wanted in the program's own words ("must be ...") rather than
// CLI11's generic "Value x not in range"; CLI11 prefixes the option's name.
CLI::Validator whole_number(long long lo, long long hi) {
    return CLI::Validator(
        [lo, hi](std::string& input) -> std::string {
            long long value = 0;
            const char* const last = input.data() + input.size();
            const auto [end, ec] = std::from_chars(input.data(), last, value);
            if (ec != std::errc{} || end != last || value < lo || value > hi) {
                return "must be a whole number from " + std::to_string(lo) + " to " + std::to_string(hi) + " (got '" +
                       input + "')";
            }
            return {};
        },
        "");
}

CLI::Validator positive_seconds() {
    return CLI::Validator(
        [](std::string& input) -> std::string {
            char* end = nullptr;
            const double value = std::strtod(input.c_str(), &end);
            const bool parsed = !input.empty() && end == input.c_str() + input.size() && std::isfinite(value);
            if (!parsed || value <= 0 || value > max_seconds) {
                return "must be a number of seconds above 0 (got '" + input + "')";
            }
            return {};
        },
        "");
}

CLI::Validator one_of_modes() {
    return CLI::Validator(
        [](std::string& input) -> std::string {
            if (input == "echo" || input == "frame" || input == "churn") {
                return {};
            }
            return "must be echo, frame or churn (got '" + input + "')";
        },
        "");
}

// --ca: the file must be there; what is wrong inside it is found when the client reads it (exit 1).
CLI::Validator existing_file() {
    return CLI::Validator(
        [](std::string& input) -> std::string {
            std::error_code error;
            if (input.empty() || !std::filesystem::is_regular_file(std::filesystem::path(input), error)) {
                return "no such file (got '" + input + "')";
            }
            return {};
        },
        "");
}

// ALPN protocol names, comma-separated: each 1 to 255 bytes (TLS's limit).
std::vector<std::string> split_list(const std::string& text) {
    std::vector<std::string> items;
    std::size_t start = 0;
    for (;;) {
        const std::size_t comma = text.find(',', start);
        items.push_back(text.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
        if (comma == std::string::npos) {
            return items;
        }
        start = comma + 1;
    }
}

CLI::Validator alpn_list() {
    return CLI::Validator(
        [](std::string& input) -> std::string {
            const std::vector<std::string> names = split_list(input);
            if (std::any_of(names.begin(), names.end(), [](const std::string& n) { return n.empty() || n.size() > 255; })) {
                return "must be protocol names of 1 to 255 bytes separated by commas (got '" + input + "')";
            }
            return {};
        },
        "");
}

CLI::Validator not_empty() {
    return CLI::Validator(
        [](std::string& input) -> std::string { return input.empty() ? "must not be empty" : std::string(); }, "");
}

mode parse_mode(const std::string& text) {
    if (text == "frame") {
        return mode::frame;
    }
    if (text == "churn") {
        return mode::churn;
    }
    return mode::echo;
}

constexpr const char* footer_text =
    "Every byte that comes back is checked against what was sent (each connection sends its own\n"
    "deterministic pseudo-random bytes). Latency is per message: from sending it to receiving the last\n"
    "byte of its reply. Progress goes to stderr once a second; at the end a summary table goes to\n"
    "stdout, or with --json one line with the keys connections, size, pipeline, seconds, messages,\n"
    "msgs_per_s, mb_per_s, p50_us, p99_us, p999_us, errors, mismatches (churn adds connects_per_s).\n"
    "MB/s counts payload bytes echoed back, 1 MB = 10^6 bytes. At most 1073741824 bytes may be in\n"
    "flight (connections x pipeline x size, all connections together).\n"
    "--udp (echo only): each of --connections UDP sockets keeps --pipeline numbered datagrams of --size\n"
    "bytes (8 to 65507) in flight, each verifiable from its number; one unanswered for 1 s is counted\n"
    "lost and replaced. Loss is reported (JSON adds the key lost), not an error; a corrupted or foreign\n"
    "datagram is a mismatch.\n"
    "--tls (echo, frame, churn): every connection is TLS (1.2 or later, through SChannel). The server's\n"
    "certificate must chain to a root the system trusts or to --ca FILE (PEM or DER), and name\n"
    "--server-name (default: the --host text, also sent as SNI); --insecure accepts any certificate.\n"
    "A failed handshake is an error, its reason printed once. The summary adds the protocol and\n"
    "cipher of the first connection that opened; JSON adds the keys tls_protocol and tls_cipher.\n"
    "Exit 0: no errors, no mismatches and at least one verified message; 1 otherwise; 2: bad arguments.\n"
    "\n"
    "Examples:\n"
    "  client --port 7000\n"
    "  client --port 7000 --connections 64 --size 1024 --pipeline 8 --duration 10 --json\n"
    "  client --port 7000 --mode churn --connections 8 --size 32\n"
    "  client --udp --port 7000 --connections 16 --size 1200 --pipeline 8 --json\n"
    "  client --tls --ca ca.pem --server-name localhost --port 8443 --json";

}  // namespace

std::string_view to_string(mode m) noexcept {
    switch (m) {
    case mode::echo: return "echo";
    case mode::frame: return "frame";
    case mode::churn: return "churn";
    }
    return "?";
}

parse_result parse_options(int argc, const char* const* argv, std::ostream& out, std::ostream& err,
                           const host_resolver& resolve) {
    CLI::App app("A verifying TCP load generator on the wire IOCP engine (echo, frame or connection churn; UDP echo with --udp).",
                 "client");
    app.footer(footer_text);
    app.get_formatter()->column_width(34);

    std::string host = "127.0.0.1";
    long long port = 0;
    long long connections = 16;
    long long size = 64;
    long long pipeline = 1;
    double duration = 5;
    std::string mode_text = "echo";
    bool json = false;

    app.add_option("--host", host, "IPv4 or IPv6 address, or host name (its first address), of the server")
        ->type_name("HOST")
        ->capture_default_str();
    app.add_option("--port", port, "Server port, 1 to 65535")->type_name("PORT")->check(whole_number(1, 65535))->required();
    app.add_option("--connections", connections, "Connections (churn: parallel connect loops), 1 to 50000")
        ->type_name("C")
        ->check(whole_number(1, static_cast<long long>(max_connections)))
        ->capture_default_str();
    app.add_option("--size", size, "Payload bytes per message, 1 to 67108864 (frame mode: to 16777216)")
        ->type_name("S")
        ->check(whole_number(1, static_cast<long long>(max_size)))
        ->capture_default_str();
    app.add_option("--pipeline", pipeline, "Messages in flight per connection, 1 to 10000 (not used by churn)")
        ->type_name("D")
        ->check(whole_number(1, static_cast<long long>(max_pipeline)))
        ->capture_default_str();
    app.add_option("--duration", duration, "Seconds to send for; replies still in flight are awaited")
        ->type_name("SECONDS")
        ->check(positive_seconds())
        ->capture_default_str();
    app.add_option("--mode", mode_text, "echo | frame | churn")->type_name("MODE")->check(one_of_modes())->capture_default_str();
    bool udp = false;
    app.add_flag("--udp", udp, "Send UDP datagrams to a UDP echo server (server --udp) instead of TCP");
    app.add_flag("--json", json, "Print one JSON line on stdout instead of the summary table");
    bool tls = false;
    bool insecure = false;
    std::string ca_file;
    std::string server_name;
    std::string alpn;
    app.add_flag("--tls", tls, "Connect with TLS (echo, frame and churn)");
    app.add_flag("--insecure", insecure, "With --tls: accept any server certificate (tests and tools only)");
    app.add_option("--ca", ca_file, "With --tls: a root certificate to trust besides the system's, PEM or DER")
        ->type_name("FILE")
        ->check(existing_file());
    app.add_option("--server-name", server_name,
                   "With --tls: the name sent as SNI and checked in the certificate (default: the --host text)")
        ->type_name("NAME")
        ->check(not_empty());
    app.add_option("--alpn", alpn, "With --tls: ALPN protocols to offer, comma-separated, most preferred first")
        ->type_name("LIST")
        ->check(alpn_list());

    const auto usage_error = [&](const std::string& message) {
        err << "client: error: " << message << "\n\n" << app.help() << std::flush;
        return parse_result{std::nullopt, 2};
    };

    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp&) {
        out << app.help() << std::flush;
        return {std::nullopt, 0};
    } catch (const CLI::ParseError& e) {
        return usage_error(e.what());
    }

    options result;
    std::error_code lookup_error;
    const std::vector<endpoint> addresses = resolve(host, static_cast<std::uint16_t>(port), lookup_error);
    if (addresses.empty()) {
        return usage_error("--host: '" + host + "' is not an address and does not resolve (" + lookup_error.message() + ")");
    }
    result.server = addresses.front();  // the system's first preference
    result.mode = parse_mode(mode_text);
    result.connections = static_cast<std::size_t>(connections);
    result.size = static_cast<std::size_t>(size);
    result.pipeline = result.mode == mode::churn ? 1 : static_cast<std::size_t>(pipeline);
    result.duration = std::chrono::milliseconds(static_cast<long long>(std::ceil(duration * 1000.0)));
    result.json = json;
    result.udp = udp;
    if (udp && result.mode != mode::echo) {
        return usage_error("--mode " + std::string(to_string(result.mode)) + ": TCP only; --udp is echo only");
    }
    if (!tls) {
        for (const char* flag : {"--insecure", "--ca", "--server-name", "--alpn"}) {
            if (app.count(flag) > 0) {
                return usage_error(std::string(flag) + ": only with --tls");
            }
        }
    } else {
        if (udp) {
            return usage_error("--tls: TCP only; not with --udp");
        }
        if (insecure && app.count("--ca") > 0) {
            return usage_error("--insecure and --ca: give one of them, not both (--insecure trusts any certificate)");
        }
        result.tls = options::tls_settings{!insecure, ca_file, server_name.empty() ? host : server_name,
                                           alpn.empty() ? std::vector<std::string>{} : split_list(alpn)};
    }
    if (udp && (result.size < min_datagram_size || result.size > max_datagram_size)) {
        return usage_error("--size: must be " + std::to_string(min_datagram_size) + " to " +
                           std::to_string(max_datagram_size) + " with --udp (got " + std::to_string(result.size) + ")");
    }

    if (result.mode == mode::frame && result.size > max_frame_size) {
        return usage_error("--size: must be at most " + std::to_string(max_frame_size) + " in frame mode (got " +
                           std::to_string(result.size) + ")");
    }
    // Each factor is bounded above, so the product fits in 64 bits.
    const auto in_flight = static_cast<std::uint64_t>(result.connections) * result.pipeline * (result.size + 4);
    if (in_flight > max_bytes_in_flight) {
        return usage_error("connections x pipeline x size: " + std::to_string(in_flight) +
                           " bytes in flight is above the limit of " + std::to_string(max_bytes_in_flight));
    }
    return {result, 0};
}

}  // namespace wire::client
