#pragma once
// The serve mode: the benchmark executable started as
//   engine_benchmarks.exe --serve engine|asio|engine_udp|asio_udp|engine-tls [--port P] [--workers N] [--markers 0|1]
//                         [--pfx PATH] [--password PASSWORD]
// runs one echo server in its own process, so that its memory and its threads are apart from the
// load driver's. The line protocol on stdin/stdout (server_process.h is the other end):
//   it prints   "listening on 127.0.0.1:PORT" once ready, or "error MESSAGE" and exits 1;
//   "stats"  -> "stats key=value ..." (the server's counters and memory_usage)
//   "quit" or end of input -> stops, prints "final key=value ...", exits 0.
// End of input also covers a driver that crashed: the server never outlives it.
// engine-tls is the engine's server behind wire::tls (SChannel) with the certificate of the PKCS#12
// file --pfx (default: the environment's WIRE_BENCH_TLS_PFX; --password: WIRE_BENCH_TLS_PASSWORD).
// --markers 1 leaves the counters in a wineserver request trace at each "stats" (profiling aid).
#include <optional>
#include <string_view>
#include <vector>

namespace wire::bench {

// The exit code when the arguments ask for the serve mode, nullopt when they do not.
[[nodiscard]] std::optional<int> serve_if_asked(const std::vector<std::string_view>& args);

}  // namespace wire::bench
