// UTF-8 <-> UTF-16 with MultiByteToWideChar / WideCharToMultiByte.
#include "text.h"

#include <wire/win32.h>

#include <gsl/narrow>

namespace wire::tls::detail {

std::wstring widen(std::string_view text) {
    if (text.empty()) {
        return {};
    }
    const int length = gsl::narrow<int>(text.size());
    const int wide_length = MultiByteToWideChar(CP_UTF8, 0, text.data(), length, nullptr, 0);
    std::wstring wide(static_cast<std::size_t>(wide_length > 0 ? wide_length : 0), L'\0');
    if (wide_length > 0) {
        MultiByteToWideChar(CP_UTF8, 0, text.data(), length, wide.data(), wide_length);
    }
    return wide;
}

std::string narrow(std::wstring_view text) {
    if (text.empty()) {
        return {};
    }
    const int length = gsl::narrow<int>(text.size());
    const int narrow_length = WideCharToMultiByte(CP_UTF8, 0, text.data(), length, nullptr, 0, nullptr, nullptr);
    std::string result(static_cast<std::size_t>(narrow_length > 0 ? narrow_length : 0), '\0');
    if (narrow_length > 0) {
        WideCharToMultiByte(CP_UTF8, 0, text.data(), length, result.data(), narrow_length, nullptr, nullptr);
    }
    return result;
}

}  // namespace wire::tls::detail
