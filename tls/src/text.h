#pragma once
// UTF-8 to UTF-16 and back, for the wide-character Win32 calls.
#include <string>
#include <string_view>

namespace wire::tls::detail {

[[nodiscard]] std::wstring widen(std::string_view text);
[[nodiscard]] std::string narrow(std::wstring_view text);

}  // namespace wire::tls::detail
