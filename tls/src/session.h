#pragma once
// One TLS connection: the layer (wire/connection_layer.h) that runs the SChannel handshake,
// encrypts what the application sends and decrypts what arrives, and passes the application's
// events on to its handler.
//
// Threads and locks:
// - Everything that arrives (on_open, on_data, on_drained, on_close, the handshake timer) runs on
//   the connection's strand, one at a time: the input buffer and the handshake are the strand's.
// - send() and close() come from any thread. send_mutex_ orders what goes on the wire: the phase,
//   the plaintext kept until the handshake is done, and every raw send (an encrypted record holds
//   the next sequence number, so records must reach the send queue in the order they were made).
//   It is held across the raw send, which may issue a WSASend: senders of one connection wait for
//   each other, as they would for the order of their bytes anyway; the strand's decryption never
//   waits for it.
// - crypto_mutex_ is held around every SSPI call on the context: SChannel does not document
//   EncryptMessage and DecryptMessage as safe on one context at once.
// Lock order: send_mutex_, then crypto_mutex_, then the engine's (inside the raw calls).
#include <wire/connection_layer.h>
#include <wire/timer.h>
#include <wire/tls.h>

#include "credentials.h"
#include "sspi.h"

#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

namespace wire::tls::detail {

class session final : public connection_layer {
public:
    // `server_name`: a client's SNI and the name its certificate is checked against.
    // `pending_cap`: plaintext kept before the handshake completes (engine_options::send_queue_cap).
    session(std::shared_ptr<const credentials> credentials, std::unique_ptr<connection_handler> application,
            std::wstring server_name, std::size_t pending_cap);
    session(const session&) = delete;
    session& operator=(const session&) = delete;
    ~session() override;

    // A client's ClientHello, made before the connect so that it rides in ConnectEx. Empty when
    // SChannel refused: the failure is reported once the connection opens.
    [[nodiscard]] std::vector<std::byte> client_hello();

    void on_open(connection& conn) override;
    void on_data(connection& conn, gsl::span<const std::byte> data) override;
    void on_drained(connection& conn) override;
    void on_close(connection& conn, std::error_code reason) override;
    [[nodiscard]] std::error_code send(const connection& conn, gsl::span<const std::byte> data) noexcept override;
    void close(const connection& conn) noexcept override;

    [[nodiscard]] const std::optional<session_info>& info() const noexcept { return info_; }

private:
    enum class phase {
        handshaking,    // sends are kept as plaintext
        open,           // records flow both ways
        renegotiating,  // the peer started a new handshake (or TLS 1.3 post-handshake messages): sends kept
        closing,        // close_notify sent or the socket closing: sends refused
        failed,         // the handshake or a record failed: sends refused, input ignored
    };

    void handshake_expired(connection& conn);
    // Feeds input_ to InitializeSecurityContext / AcceptSecurityContext until it asks for more
    // or the handshake ends.
    void continue_handshake(connection& conn);
    void handshake_done(connection& conn);
    void decrypt_records(connection& conn);
    // Ends the connection: `reason` goes to the application's on_close. After an alert was sent
    // the socket closes gracefully (so the alert arrives), else it resets.
    void fail(connection& conn, std::error_code reason, bool alert_sent = false);
    // With send_mutex_ held: encrypts `data` into records and queues them.
    [[nodiscard]] std::error_code encrypt_and_queue(const connection& conn, gsl::span<const std::byte> data) noexcept;
    // With send_mutex_ held: SChannel's own bytes (handshake tokens, alerts, close_notify).
    std::error_code send_token(const connection& conn, const SecBuffer& token) noexcept;
    void read_session_info();

    std::shared_ptr<const credentials> credentials_;
    std::unique_ptr<connection_handler> application_;
    std::wstring server_name_;
    const std::size_t pending_cap_;

    std::mutex send_mutex_;
    phase phase_ = phase::handshaking;      // send_mutex_
    std::vector<std::byte> pending_;        // send_mutex_: plaintext sent before the handshake ended
    bool drained_owed_ = false;             // send_mutex_: a send was refused while pending_ was full
    // send_mutex_: this side sent close_notify first. The peer's answer (its close_notify and FIN)
    // may then arrive before the socket's own close was requested: still a close this side asked for.
    bool goodbye_first_ = false;
    SecPkgContext_StreamSizes sizes_{};     // set when open, before phase_ says so

    std::mutex crypto_mutex_;
    unique_security_context context_;

    // The strand's.
    std::vector<std::byte> input_;  // received bytes not yet consumed by SChannel
    std::error_code failure_;
    bool application_opened_ = false;
    bool handshake_started_ = false;  // the first ISC / ASC call has been made
    bool peer_goodbye_ = false;       // the peer's close_notify came first (not as the answer to ours)
    timer handshake_timer_;
    std::optional<session_info> info_;
};

}  // namespace wire::tls::detail
