// Winsock start-up for the tests' plain Winsock peers (each engine holds its own start-up).
#include "test_support.h"

namespace wire::test {
namespace {

[[maybe_unused]] const auto* const registered = ::testing::AddGlobalTestEnvironment(new winsock_environment);

}  // namespace
}  // namespace wire::test
