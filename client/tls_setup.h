#pragma once
// --tls: the client's TLS context (wire::tls over SChannel), made once and shared by every
// connection of the run.
#include <wire/tls.h>

#include "client_options.h"

#include <cstddef>
#include <string>
#include <vector>

namespace wire::client {

// The DER certificates of a PEM file (each "-----BEGIN CERTIFICATE-----" block, decoded with
// CryptStringToBinaryA) or the DER certificate a file holds as it is. Throws std::runtime_error
// with what is wrong (no certificate in a PEM file, a block that is not base64).
[[nodiscard]] std::vector<std::vector<std::byte>> certificates_in(const std::string& file_contents);

// Reads --ca (if given) and acquires SChannel's client credentials. Throws std::runtime_error
// whose what() names the file and gives the library's reason; main reports it (exit 1).
[[nodiscard]] tls::client_context make_tls_context(const options::tls_settings& settings);

}  // namespace wire::client
