#include "server_options.h"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <ostream>
#include <string>
#include <system_error>

namespace wire::server {

namespace {

// Longest --duration or --idle-timeout: keeps the conversion to milliseconds far from overflow.
constexpr double max_seconds = 1e7;

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

CLI::Validator seconds(bool zero_allowed) {
    return CLI::Validator(
        [zero_allowed](std::string& input) -> std::string {
            char* end = nullptr;
            const double value = std::strtod(input.c_str(), &end);
            const bool parsed = !input.empty() && end == input.c_str() + input.size() && std::isfinite(value);
            if (!parsed || value < 0 || (value == 0 && !zero_allowed) || value > max_seconds) {
                return std::string(zero_allowed ? "must be a number of seconds, 0 or more" : "must be a number of seconds above 0") +
                       " (got '" + input + "')";
            }
            return {};
        },
        "");
}

CLI::Validator one_of_modes() {
    return CLI::Validator(
        [](std::string& input) -> std::string {
            if (input == "echo" || input == "discard" || input == "frame") {
                return {};
            }
            return "must be echo, discard or frame (got '" + input + "')";
        },
        "");
}

// --cert: the file must be there; what is wrong inside it (a wrong password, not PKCS#12) is only
// found when the server loads it, which then exits 1 (as for a port it cannot listen on).
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

// A SHA-1 thumbprint as certificate tools print it: 40 hex digits, spaces and colons allowed.
CLI::Validator sha1_thumbprint() {
    return CLI::Validator(
        [](std::string& input) -> std::string {
            std::size_t digits = 0;
            for (const char c : input) {
                if (std::isxdigit(static_cast<unsigned char>(c)) != 0) {
                    ++digits;
                } else if (c != ' ' && c != ':') {
                    digits = 0;
                    break;
                }
            }
            if (digits != 40) {
                return "must be a SHA-1 thumbprint, 40 hex digits (got '" + input + "')";
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

std::chrono::milliseconds to_milliseconds(double seconds) {
    // Rounded up, so a tiny positive duration never becomes 0 (which means "never" for timeouts).
    return std::chrono::milliseconds(static_cast<long long>(std::ceil(seconds * 1000.0)));
}

mode parse_mode(const std::string& text) {
    if (text == "discard") {
        return mode::discard;
    }
    if (text == "frame") {
        return mode::frame;
    }
    return mode::echo;
}

constexpr const char* footer_text =
    "When ready, prints exactly one line 'listening on HOST:PORT' (the real port; IPv6 as [ADDR]:PORT)\n"
    "to stdout. Every 2 s a statistics line goes to stderr: open and total connections, msgs/s\n"
    "(frames in frame mode, completed receives otherwise) and MB/s in and out (1 MB = 10^6 bytes).\n"
    "In frame mode a length above --max-frame closes that connection only (counted as a protocol error).\n"
    "--udp: one UDP socket on the same --host/--port serves echo (each datagram sent back to its\n"
    "sender) or discard; the same 'listening on HOST:PORT' line; msgs/s counts datagrams. Frame mode,\n"
    "--max-connections and --idle-timeout are TCP only. Datagrams up to 65527 bytes are echoed whole.\n"
    "--tls: TLS (1.2 or later, through SChannel) on the TCP listener, every mode alike, with the\n"
    "certificate and private key of --cert FILE (PKCS#12: .pfx or .p12; --cert-password PW) or of\n"
    "--cert-thumbprint HEX (the CurrentUser\\MY store); --alpn h2,http/1.1 names the protocols it speaks.\n"
    "The same 'listening on HOST:PORT' line; the statistics lines add the TLS handshakes completed and\n"
    "failed (each failure logged like a rejection: the peer and the reason).\n"
    "Ctrl+C, closing the console or the end of --duration: stops gracefully, prints a final statistics\n"
    "line, exits 0. Bad arguments exit 2; failing to listen (address in use) or to load the --tls\n"
    "certificate (wrong password, not PKCS#12, not in the store) exits 1.\n"
    "\n"
    "Examples:\n"
    "  server --port 7000\n"
    "  server --mode frame --max-frame 65536 --duration 60\n"
    "  server --host ::1 --port 0 --workers 2 --idle-timeout 30\n"
    "  server --udp --port 7000 --mode discard\n"
    "  server --tls --cert server.pfx --cert-password secret --port 8443";

}  // namespace

std::string_view to_string(mode m) noexcept {
    switch (m) {
    case mode::echo: return "echo";
    case mode::discard: return "discard";
    case mode::frame: return "frame";
    }
    return "?";
}

parse_result parse_options(int argc, const char* const* argv, std::ostream& out, std::ostream& err,
                           const host_resolver& resolve) {
    CLI::App app("A TCP test server on the wire IOCP engine: echo, discard or length-prefixed frames (UDP echo or discard with --udp).", "server");
    app.footer(footer_text);
    app.get_formatter()->column_width(34);

    std::string host = "127.0.0.1";
    long long port = 0;
    std::string mode_text = "echo";
    long long workers = 0;
    long long max_connections = 10'000;
    long long max_frame = frame_parser::default_max_frame;
    double idle_timeout = 60;  // a peer that holds a slot in silence is let go after a minute
    double duration = 0;

    app.add_option("--host", host, "IPv4 or IPv6 address, or a host name (its first address), to listen on")
        ->type_name("HOST")
        ->capture_default_str();
    app.add_option("--port", port, "TCP port, 0 to 65535; 0 picks a free port")
        ->type_name("PORT")
        ->check(whole_number(0, 65535))
        ->capture_default_str();
    app.add_option("--mode", mode_text, "echo | discard | frame")
        ->type_name("MODE")
        ->check(one_of_modes())
        ->capture_default_str();
    app.add_option("--workers", workers, "Engine worker threads, 0 to 1024; 0 is one per logical processor")
        ->type_name("N")
        ->check(whole_number(0, 1024))
        ->capture_default_str();
    app.add_option("--max-connections", max_connections,
                   "Open connections at most, 1 to 1000000; further ones are closed at once")
        ->type_name("N")
        ->check(whole_number(1, 1'000'000))
        ->capture_default_str();
    app.add_option("--max-frame", max_frame, "Largest frame payload in frame mode, 0 to 1073741824 bytes")
        ->type_name("BYTES")
        ->check(whole_number(0, max_frame_limit))
        ->capture_default_str();
    app.add_option("--idle-timeout", idle_timeout, "Close connections silent this long; 0 never does")
        ->type_name("SECONDS")
        ->check(seconds(true))
        ->capture_default_str();
    bool udp = false;
    app.add_flag("--udp", udp, "Serve UDP datagrams (echo or discard) instead of TCP");
    app.add_option("--duration", duration, "Serve this long, then stop gracefully (default: until Ctrl+C)")
        ->type_name("SECONDS")
        ->check(seconds(false));
    bool tls = false;
    std::string cert_file;
    std::string cert_password;
    std::string cert_thumbprint;
    std::string alpn;
    app.add_flag("--tls", tls, "Serve TLS on the TCP listener (needs --cert or --cert-thumbprint)");
    app.add_option("--cert", cert_file, "With --tls: the certificate and its private key, a PKCS#12 file (.pfx, .p12)")
        ->type_name("FILE")
        ->check(existing_file());
    app.add_option("--cert-password", cert_password, "With --cert: the PKCS#12 file's password (default: empty)")
        ->type_name("PW");
    app.add_option("--cert-thumbprint", cert_thumbprint,
                   "With --tls, instead of --cert: the SHA-1 thumbprint of a certificate in CurrentUser\\MY")
        ->type_name("HEX")
        ->check(sha1_thumbprint());
    app.add_option("--alpn", alpn, "With --tls: ALPN protocols, comma-separated, most preferred first")
        ->type_name("LIST")
        ->check(alpn_list());

    const auto usage_error = [&](const std::string& message) {
        err << "server: error: " << message << "\n\n" << app.help() << std::flush;
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
    result.address = addresses.front();  // the system's first preference
    result.mode = parse_mode(mode_text);
    result.udp = udp;
    if (udp && result.mode == mode::frame) {
        return usage_error("--mode frame: TCP only; with --udp use echo or discard");
    }
    if (!tls) {
        for (const char* flag : {"--cert", "--cert-password", "--cert-thumbprint", "--alpn"}) {
            if (app.count(flag) > 0) {
                return usage_error(std::string(flag) + ": only with --tls");
            }
        }
    } else {
        if (udp) {
            return usage_error("--tls: TCP only; not with --udp");
        }
        const bool from_file = app.count("--cert") > 0;
        const bool from_store = app.count("--cert-thumbprint") > 0;
        if (from_file == from_store) {
            return usage_error(from_file ? "--cert and --cert-thumbprint: give one of them, not both"
                                         : "--tls: needs a certificate: --cert FILE (PKCS#12) or --cert-thumbprint HEX");
        }
        if (from_store && app.count("--cert-password") > 0) {
            return usage_error("--cert-password: only with --cert (a store's certificate needs none)");
        }
        result.tls = options::tls_settings{cert_file, cert_password, cert_thumbprint,
                                           alpn.empty() ? std::vector<std::string>{} : split_list(alpn)};
    }
    result.workers = static_cast<unsigned>(workers);
    result.max_connections = static_cast<std::size_t>(max_connections);
    result.max_frame = static_cast<std::uint32_t>(max_frame);
    result.idle_timeout = to_milliseconds(idle_timeout);
    if (app.count("--duration") > 0) {
        result.duration = to_milliseconds(duration);
    }
    return {result, 0};
}

}  // namespace wire::server
