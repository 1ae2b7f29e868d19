// serve.h in the Linux-native driver: the servers under test are Windows programs (the engine is
// Win32 code), so they run as `wine engine_benchmarks.exe --serve ...`, never from this build.
#include "../serve.h"

#include <iostream>

namespace wire::bench {

std::optional<int> serve_if_asked(const std::vector<std::string_view>& args) {
    if (args.size() < 2 || args[1] != "--serve") {
        return std::nullopt;
    }
    std::cout << "error the servers run under Wine: wine engine_benchmarks.exe --serve ..." << std::endl;
    return 2;
}

}  // namespace wire::bench
