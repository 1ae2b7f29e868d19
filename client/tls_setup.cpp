#include "tls_setup.h"

#include <wire/win32.h>

#include <wincrypt.h>  // after windows.h, which it needs; WIN32_LEAN_AND_MEAN leaves it out

#include <gsl/narrow>

#include <exception>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string_view>

#ifdef _MSC_VER
#pragma comment(lib, "crypt32.lib")
#endif

namespace wire::client {

namespace {

constexpr std::string_view pem_begin = "-----BEGIN CERTIFICATE-----";
constexpr std::string_view pem_end = "-----END CERTIFICATE-----";

// One PEM block, header and footer included, to DER: the system's own decoder.
std::vector<std::byte> decode_pem_block(std::string_view block) {
    const auto length = gsl::narrow<DWORD>(block.size());
    DWORD size = 0;
    if (CryptStringToBinaryA(block.data(), length, CRYPT_STRING_BASE64HEADER, nullptr, &size, nullptr, nullptr) == FALSE) {
        throw std::runtime_error("a PEM certificate block is not valid base64 (CryptStringToBinaryA: error " +
                                 std::to_string(GetLastError()) + ")");
    }
    std::vector<std::byte> der(size);
    if (CryptStringToBinaryA(block.data(), length, CRYPT_STRING_BASE64HEADER, reinterpret_cast<BYTE*>(der.data()), &size,
                             nullptr, nullptr) == FALSE) {
        throw std::runtime_error("a PEM certificate block is not valid base64 (CryptStringToBinaryA: error " +
                                 std::to_string(GetLastError()) + ")");
    }
    der.resize(size);
    return der;
}

}  // namespace

std::vector<std::vector<std::byte>> certificates_in(const std::string& file_contents) {
    const std::string_view text(file_contents);
    std::vector<std::vector<std::byte>> found;
    if (text.find("-----BEGIN") == std::string_view::npos) {
        // DER as it is; SChannel's store refuses what is not a certificate.
        const auto* bytes = reinterpret_cast<const std::byte*>(file_contents.data());
        found.emplace_back(bytes, bytes + file_contents.size());
        return found;
    }
    for (std::size_t at = text.find(pem_begin); at != std::string_view::npos; at = text.find(pem_begin, at)) {
        const std::size_t end = text.find(pem_end, at);
        if (end == std::string_view::npos) {
            throw std::runtime_error("a PEM certificate block has no END line");
        }
        found.push_back(decode_pem_block(text.substr(at, end + pem_end.size() - at)));
        at = end + pem_end.size();
    }
    if (found.empty()) {
        throw std::runtime_error("a PEM file without a certificate (no \"" + std::string(pem_begin) + "\" line)");
    }
    return found;
}

tls::client_context make_tls_context(const options::tls_settings& settings) {
    tls::client_options client;
    client.verify_certificate = settings.verify;
    client.alpn = settings.alpn;
    try {
        if (!settings.ca_file.empty()) {
            std::ifstream file(settings.ca_file, std::ios::binary);
            if (!file) {
                throw std::runtime_error("cannot open it");
            }
            const std::string contents((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
            client.trusted_roots = certificates_in(contents);
        }
        return tls::client_context(std::move(client));
    } catch (const std::exception& e) {
        throw std::runtime_error((settings.ca_file.empty() ? std::string("--tls") : "--ca " + settings.ca_file) + ": " +
                                 e.what());
    }
}

}  // namespace wire::client
