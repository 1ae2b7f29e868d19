// The TLS session: handshake, records, renegotiation and close_notify over SChannel (session.h).
#include "session.h"

#include <wire/error.h>

#include "peer_verification.h"
#include "session_info.h"
#include "text.h"

#include <gsl/narrow>

#include <algorithm>
#include <array>
#include <cstring>

namespace wire::tls::detail {

namespace {

constexpr ULONG client_flags = ISC_REQ_SEQUENCE_DETECT | ISC_REQ_REPLAY_DETECT | ISC_REQ_CONFIDENTIALITY |
                               ISC_REQ_ALLOCATE_MEMORY | ISC_REQ_STREAM | ISC_REQ_EXTENDED_ERROR |
                               ISC_REQ_MANUAL_CRED_VALIDATION;
constexpr ULONG server_flags = ASC_REQ_SEQUENCE_DETECT | ASC_REQ_REPLAY_DETECT | ASC_REQ_CONFIDENTIALITY |
                               ASC_REQ_ALLOCATE_MEMORY | ASC_REQ_STREAM | ASC_REQ_EXTENDED_ERROR;
// Plaintext encrypted per raw send: bounds the per-thread scratch buffer (a few records).
constexpr std::size_t plaintext_per_slice = 64 * 1024;
// SEC_I_INCOMPLETE_CREDENTIALS repeats at most this often in one go (a server asking for a client
// certificate we do not have): SChannel then goes on without one.
constexpr int max_handshake_steps = 8;

// Whether the record headers among `input` (type, version, length) can be TLS's. SChannel may
// wait for as many bytes as a garbage header claims, so garbage would hold the connection until
// the handshake timeout; this refuses it at once, before any SSPI call.
bool records_look_like_tls(gsl::span<const std::byte> input) noexcept {
    constexpr std::size_t header = 5;
    constexpr std::size_t largest_record = 16 * 1024 + 2048;
    std::size_t at = 0;
    while (at < input.size()) {
        const auto type = std::to_integer<unsigned>(input[at]);
        if (type < 20 || type > 23) {  // change_cipher_spec, alert, handshake, application_data
            return false;
        }
        if (at + 1 < input.size() && std::to_integer<unsigned>(input[at + 1]) != 3) {  // TLS 1.x: major version 3
            return false;
        }
        if (at + header > input.size()) {
            return true;
        }
        const std::size_t length = std::to_integer<std::size_t>(input[at + 3]) << 8 | std::to_integer<std::size_t>(input[at + 4]);
        if (length > largest_record) {
            return false;
        }
        at += header + length;
    }
    return true;
}

std::error_code security_error(SECURITY_STATUS status) noexcept { return {static_cast<int>(status), security_category()}; }

SecBuffer buffer(unsigned long type, void* data = nullptr, std::size_t size = 0) noexcept {
    return SecBuffer{gsl::narrow_cast<unsigned long>(size), type, data};
}

// SSPI-allocated output buffers, freed whatever happens to the step.
struct output_tokens {
    std::array<SecBuffer, 2> buffers{buffer(SECBUFFER_TOKEN), buffer(SECBUFFER_ALERT)};
    SecBufferDesc desc{SECBUFFER_VERSION, 2, buffers.data()};
    output_tokens() noexcept = default;
    output_tokens(const output_tokens&) = delete;
    output_tokens& operator=(const output_tokens&) = delete;
    ~output_tokens() {
        for (const SecBuffer& b : buffers) {
            if (b.pvBuffer != nullptr) {
                FreeContextBuffer(b.pvBuffer);
            }
        }
    }
};

const SecBuffer* find_buffer(const SecBuffer* buffers, std::size_t count, unsigned long type) noexcept {
    for (std::size_t i = 0; i < count; ++i) {
        if (buffers[i].BufferType == type) {
            return &buffers[i];
        }
    }
    return nullptr;
}

}  // namespace

session::session(std::shared_ptr<const credentials> credentials, std::unique_ptr<connection_handler> application,
                 std::wstring server_name, std::size_t pending_cap)
    : credentials_(std::move(credentials)),
      application_(std::move(application)),
      server_name_(std::move(server_name)),
      pending_cap_(pending_cap) {}

session::~session() = default;

std::vector<std::byte> session::client_hello() {
    std::array<SecBuffer, 1> input{buffer(SECBUFFER_APPLICATION_PROTOCOLS, const_cast<std::byte*>(credentials_->alpn().data()),
                                          credentials_->alpn().size())};
    SecBufferDesc input_desc{SECBUFFER_VERSION, 1, input.data()};
    output_tokens output;
    ULONG attributes = 0;
    const SECURITY_STATUS status = InitializeSecurityContextW(
        credentials_->handle(), nullptr, server_name_.empty() ? nullptr : server_name_.data(), client_flags, 0, 0,
        credentials_->alpn().empty() ? nullptr : &input_desc, 0, context_.put(), &output.desc, &attributes, nullptr);
    handshake_started_ = true;
    if (status != SEC_I_CONTINUE_NEEDED) {
        failure_ = security_error(status);
        return {};
    }
    context_.mark_valid();
    const SecBuffer& token = output.buffers[0];
    const auto* bytes = static_cast<const std::byte*>(token.pvBuffer);
    return std::vector<std::byte>(bytes, bytes + token.cbBuffer);
}

// ---- events (on the strand) --------------------------------------------------------------------

void session::on_open(connection& conn) {
    handshake_timer_ = conn.after(credentials_->limits().handshake_timeout, [](connection& c) {
        if (auto* self = dynamic_cast<session*>(connection_layer::of(c))) {
            self->handshake_expired(c);
        }
    });
    if (failure_) {
        fail(conn, failure_);
    }
}

void session::handshake_expired(connection& conn) {
    {
        std::lock_guard lock(send_mutex_);
        if (phase_ != phase::handshaking) {
            return;
        }
    }
    fail(conn, make_error_code(error::handshake_timeout));
}

void session::on_data(connection& conn, gsl::span<const std::byte> data) {
    phase current;
    {
        std::lock_guard lock(send_mutex_);
        current = phase_;
    }
    if (current == phase::failed) {
        return;  // the connection is being reset: what the peer sends now means nothing
    }
    input_.insert(input_.end(), data.begin(), data.end());
    if (current == phase::handshaking || current == phase::renegotiating) {
        continue_handshake(conn);
    } else {
        decrypt_records(conn);
    }
    // What is left is one incomplete record or handshake message: bounded.
    if (input_.size() > credentials_->limits().max_input_bytes && !failure_) {
        fail(conn, make_error_code(error::record_too_large));
    } else if (input_.empty()) {
        input_ = {};  // an idle connection holds no receive memory of the layer's
    }
}

void session::on_drained(connection& conn) {
    bool open = false;
    {
        std::lock_guard lock(send_mutex_);
        open = phase_ == phase::open;
    }
    if (open && application_opened_) {
        application_->on_drained(conn);
    }
}

void session::on_close(connection& conn, std::error_code reason) {
    handshake_timer_.cancel();
    bool goodbye_first = false;
    {
        std::lock_guard lock(send_mutex_);
        goodbye_first = goodbye_first_;
        phase_ = phase::closing;
        pending_.clear();
    }
    if (failure_) {
        reason = failure_;
    } else if (reason == wire::error::end_of_stream && !input_.empty()) {
        reason = make_error_code(error::truncated_record);
    } else if (reason == wire::error::end_of_stream && goodbye_first && !peer_goodbye_) {
        reason = {};  // the peer's FIN answered our close_notify: the close this side asked for
    }
    application_->on_close(conn, reason);
}

// ---- the handshake -----------------------------------------------------------------------------

void session::continue_handshake(connection& conn) {
    const bool server = credentials_->is_server();
    if (!records_look_like_tls(input_)) {
        fail(conn, make_error_code(error::not_tls));
        return;
    }
    for (int step = 0; step < max_handshake_steps; ++step) {
        std::array<SecBuffer, 3> input{buffer(SECBUFFER_TOKEN, input_.data(), input_.size()), buffer(SECBUFFER_EMPTY),
                                       buffer(SECBUFFER_APPLICATION_PROTOCOLS,
                                              const_cast<std::byte*>(credentials_->alpn().data()),
                                              credentials_->alpn().size())};
        // ALPN goes in with the server's every step (it answers the ClientHello's list); the
        // client offered its list in the ClientHello.
        SecBufferDesc input_desc{SECBUFFER_VERSION, server && !credentials_->alpn().empty() ? 3UL : 2UL, input.data()};
        output_tokens output;
        ULONG attributes = 0;
        SECURITY_STATUS status = SEC_E_OK;
        {
            std::lock_guard lock(crypto_mutex_);
            const bool first = !context_;
            if (server) {
                // phNewContext names the same handle on later calls (as Microsoft's samples do).
                status = AcceptSecurityContext(credentials_->handle(), context_.get(), &input_desc, server_flags, 0,
                                               context_.put(), &output.desc, &attributes, nullptr);
            } else {
                status = InitializeSecurityContextW(credentials_->handle(), context_.get(),
                                                    server_name_.empty() ? nullptr : server_name_.data(), client_flags, 0,
                                                    0, &input_desc, 0, context_.put(), &output.desc, &attributes, nullptr);
            }
            if (first && (status == SEC_E_OK || status == SEC_I_CONTINUE_NEEDED)) {
                context_.mark_valid();
            }
        }
        handshake_started_ = true;
        bool alert_sent = false;
        {
            std::lock_guard lock(send_mutex_);
            for (const SecBuffer& token : output.buffers) {
                if (token.pvBuffer != nullptr && token.cbBuffer > 0) {
                    static_cast<void>(send_token(conn, token));
                    alert_sent = alert_sent || token.BufferType == SECBUFFER_ALERT || FAILED(status);
                }
            }
        }
        if (status == SEC_E_INCOMPLETE_MESSAGE) {
            return;  // the rest of the message is still on its way
        }
        if (status == SEC_I_INCOMPLETE_CREDENTIALS) {
            continue;  // asked for a client certificate: go on without one
        }
        // SChannel consumed the input but for what SECBUFFER_EXTRA says is left.
        const std::size_t extra = input[1].BufferType == SECBUFFER_EXTRA ? input[1].cbBuffer : 0;
        input_.erase(input_.begin(), input_.end() - static_cast<std::ptrdiff_t>(std::min(extra, input_.size())));
        if (status == SEC_E_OK) {
            handshake_done(conn);
            return;
        }
        if (status != SEC_I_CONTINUE_NEEDED) {
            fail(conn, security_error(status), alert_sent);
            return;
        }
        if (input_.empty()) {
            return;
        }
    }
}

void session::handshake_done(connection& conn) {
    {
        std::lock_guard lock(crypto_mutex_);
        const SECURITY_STATUS status = QueryContextAttributesW(context_.get(), SECPKG_ATTR_STREAM_SIZES, &sizes_);
        if (status != SEC_E_OK) {
            fail(conn, security_error(status));
            return;
        }
    }
    const bool first = !application_opened_;
    if (first && !credentials_->is_server()) {
        unique_cert_context peer;
        SECURITY_STATUS status = SEC_E_OK;
        {
            std::lock_guard lock(crypto_mutex_);
            status = QueryContextAttributesW(context_.get(), SECPKG_ATTR_REMOTE_CERT_CONTEXT, peer.put());
        }
        if (status != SEC_E_OK || !peer) {
            fail(conn, make_error_code(error::no_peer_certificate));
            return;
        }
        if (const std::error_code refused = verify_server_certificate(*credentials_, peer.get(), server_name_); refused) {
            fail(conn, refused);
            return;
        }
    }
    if (first) {
        handshake_timer_.cancel();
        read_session_info();
    }
    bool drained = false;
    {
        std::lock_guard lock(send_mutex_);
        if (phase_ != phase::handshaking && phase_ != phase::renegotiating) {
            return;  // closed meanwhile
        }
        phase_ = phase::open;
        if (!pending_.empty()) {
            const std::vector<std::byte> kept = std::exchange(pending_, {});
            if (const std::error_code refused = encrypt_and_queue(conn, kept); refused) {
                phase_ = phase::failed;  // the stream cannot go on without those bytes
                failure_ = refused;
            }
        }
        drained = std::exchange(drained_owed_, false);
    }
    if (failure_) {
        conn.abort(failure_);
        return;
    }
    if (first) {
        application_opened_ = true;
        application_->on_open(conn);
    }
    if (drained) {
        application_->on_drained(conn);
    }
    decrypt_records(conn);  // records that came with the handshake's last message
}

void session::read_session_info() {
    std::lock_guard lock(crypto_mutex_);
    info_ = describe_session(*context_.get(), !credentials_->alpn().empty());
}

// ---- records -----------------------------------------------------------------------------------

// Decrypts every complete record in input_ in place and gathers the plaintext at its front, so
// that the application gets what one receive brought in one on_data call, as on a plain
// connection (and answers it with one send): a record at a time costs a send per record.
void session::decrypt_records(connection& conn) {
    std::size_t plaintext = 0;  // gathered at the front of input_
    std::size_t consumed = 0;   // records decrypted so far (plaintext <= consumed)
    SECURITY_STATUS status = SEC_E_OK;
    while (consumed < input_.size()) {
        {
            std::lock_guard lock(send_mutex_);
            if (phase_ != phase::open && phase_ != phase::closing) {
                return;
            }
        }
        std::array<SecBuffer, 4> buffers{buffer(SECBUFFER_DATA, input_.data() + consumed, input_.size() - consumed),
                                         buffer(SECBUFFER_EMPTY), buffer(SECBUFFER_EMPTY), buffer(SECBUFFER_EMPTY)};
        SecBufferDesc desc{SECBUFFER_VERSION, 4, buffers.data()};
        {
            std::lock_guard lock(crypto_mutex_);
            status = DecryptMessage(context_.get(), &desc, 0, nullptr);
        }
        if (status != SEC_E_OK && status != SEC_I_RENEGOTIATE && status != SEC_I_CONTEXT_EXPIRED) {
            break;  // incomplete (wait for the rest) or an error (after delivering what came before)
        }
        const SecBuffer* data = find_buffer(buffers.data(), buffers.size(), SECBUFFER_DATA);
        const SecBuffer* extra = find_buffer(buffers.data(), buffers.size(), SECBUFFER_EXTRA);
        if (data != nullptr && data->cbBuffer > 0) {
            // The plaintext lies inside its record, at or after `plaintext`: move it down.
            std::memmove(input_.data() + plaintext, data->pvBuffer, data->cbBuffer);
            plaintext += data->cbBuffer;
        }
        consumed = input_.size() - (extra != nullptr ? std::min<std::size_t>(extra->cbBuffer, input_.size() - consumed) : 0);
        if (status != SEC_E_OK) {
            break;  // close_notify or a new handshake: what follows is not records
        }
    }
    if (plaintext > 0 && application_opened_) {
        application_->on_data(conn, gsl::span<const std::byte>(input_.data(), plaintext));
    }
    input_.erase(input_.begin(), input_.begin() + static_cast<std::ptrdiff_t>(consumed));
    if (status == SEC_E_OK || status == SEC_E_INCOMPLETE_MESSAGE) {
        return;
    }
    if (status == SEC_I_CONTEXT_EXPIRED) {
        // close_notify: answer with ours and close; the peer's FIN ends it with end_of_stream.
        input_.clear();
        {
            std::lock_guard lock(send_mutex_);
            peer_goodbye_ = !goodbye_first_;  // else it answers ours
        }
        close(conn);
        return;
    }
    if (status == SEC_I_RENEGOTIATE) {
        // A new handshake (TLS 1.2 renegotiation) or TLS 1.3's post-handshake messages: what
        // follows the record goes to the handshake; sends wait as plaintext until it is done.
        {
            std::lock_guard lock(send_mutex_);
            if (phase_ != phase::open) {
                return;
            }
            phase_ = phase::renegotiating;
        }
        continue_handshake(conn);
        return;
    }
    fail(conn, security_error(status));
}

std::error_code session::send(const connection& conn, gsl::span<const std::byte> data) noexcept {
    std::lock_guard lock(send_mutex_);
    switch (phase_) {
    case phase::handshaking:
    case phase::renegotiating:
        if (data.empty()) {
            return {};
        }
        // Kept as plaintext; an empty store takes any one buffer, as the engine's queue does.
        if (!pending_.empty() && data.size() > pending_cap_ - std::min(pending_.size(), pending_cap_)) {
            drained_owed_ = true;
            return make_error_code(wire::error::send_queue_full);
        }
        try {
            pending_.insert(pending_.end(), data.begin(), data.end());
        } catch (const std::bad_alloc&) {
            return std::make_error_code(std::errc::not_enough_memory);
        }
        return {};
    case phase::open: return encrypt_and_queue(conn, data);
    case phase::closing:
    case phase::failed: break;
    }
    return make_error_code(wire::error::not_connected);
}

std::error_code session::encrypt_and_queue(const connection& conn, gsl::span<const std::byte> data) noexcept {
    if (data.empty()) {
        return {};
    }
    const std::size_t record_payload = sizes_.cbMaximumMessage;
    const std::size_t overhead = std::size_t{sizes_.cbHeader} + sizes_.cbTrailer;
    const std::size_t records = (data.size() + record_payload - 1) / record_payload;
    // The whole send is admitted at once: once a record is made it must be queued.
    if (const std::error_code refused = admit_unlayered(conn, data.size() + records * overhead); refused) {
        return refused;
    }
    // One scratch buffer per thread: send() may come from any thread, and a slice is queued (copied)
    // before the next is made.
    thread_local std::vector<std::byte> scratch;
    try {
        const std::size_t slice_records = std::max<std::size_t>(1, plaintext_per_slice / record_payload);
        scratch.resize(slice_records * (record_payload + overhead));
    } catch (const std::bad_alloc&) {
        return std::make_error_code(std::errc::not_enough_memory);
    }
    std::size_t offset = 0;
    while (offset < data.size()) {
        std::size_t used = 0;
        while (offset < data.size() && used + record_payload + overhead <= scratch.size()) {
            const std::size_t chunk = std::min(record_payload, data.size() - offset);
            std::byte* header = scratch.data() + used;
            std::byte* payload = header + sizes_.cbHeader;
            std::copy_n(data.begin() + static_cast<std::ptrdiff_t>(offset), chunk, payload);
            std::array<SecBuffer, 4> buffers{buffer(SECBUFFER_STREAM_HEADER, header, sizes_.cbHeader),
                                             buffer(SECBUFFER_DATA, payload, chunk),
                                             buffer(SECBUFFER_STREAM_TRAILER, payload + chunk, sizes_.cbTrailer),
                                             buffer(SECBUFFER_EMPTY)};
            SecBufferDesc desc{SECBUFFER_VERSION, 4, buffers.data()};
            SECURITY_STATUS status = SEC_E_OK;
            {
                std::lock_guard lock(crypto_mutex_);
                status = EncryptMessage(context_.get(), 0, &desc, 0);
            }
            if (status != SEC_E_OK) {
                phase_ = phase::failed;
                return security_error(status);
            }
            // The trailer may be shorter than its maximum: the next record starts where this ends.
            used += std::size_t{buffers[0].cbBuffer} + buffers[1].cbBuffer + buffers[2].cbBuffer;
            offset += chunk;
        }
        if (const std::error_code refused = send_unlayered(conn, gsl::span<const std::byte>(scratch.data(), used), true);
            refused) {
            return refused;  // closing: the rest would not leave either
        }
    }
    return {};
}

std::error_code session::send_token(const connection& conn, const SecBuffer& token) noexcept {
    // A few hundred bytes to a few KiB of the protocol's own: never refused for the caps.
    return send_unlayered(conn, gsl::span<const std::byte>(static_cast<const std::byte*>(token.pvBuffer), token.cbBuffer), true);
}

// ---- closing -----------------------------------------------------------------------------------

void session::close(const connection& conn) noexcept {
    {
        std::lock_guard lock(send_mutex_);
        const bool say_goodbye = phase_ == phase::open || phase_ == phase::renegotiating;
        if (phase_ != phase::failed) {
            phase_ = phase::closing;
        }
        pending_.clear();  // not yet encrypted: a renegotiation cannot finish once closing
        if (say_goodbye) {
            goodbye_first_ = true;
            // close_notify: SCHANNEL_SHUTDOWN, then one more handshake step yields the alert.
            DWORD shutdown = SCHANNEL_SHUTDOWN;
            std::array<SecBuffer, 1> control{buffer(SECBUFFER_TOKEN, &shutdown, sizeof(shutdown))};
            SecBufferDesc control_desc{SECBUFFER_VERSION, 1, control.data()};
            output_tokens output;
            ULONG attributes = 0;
            SECURITY_STATUS status = SEC_E_OK;
            {
                std::lock_guard crypto(crypto_mutex_);
                status = ApplyControlToken(context_.get(), &control_desc);
                if (status == SEC_E_OK) {
                    status = credentials_->is_server()
                                 ? AcceptSecurityContext(credentials_->handle(), context_.get(), nullptr, server_flags, 0,
                                                         nullptr, &output.desc, &attributes, nullptr)
                                 : InitializeSecurityContextW(credentials_->handle(), context_.get(),
                                                              server_name_.empty() ? nullptr : server_name_.data(),
                                                              client_flags, 0, 0, nullptr, 0, nullptr, &output.desc,
                                                              &attributes, nullptr);
                }
            }
            if (status == SEC_E_OK || status == SEC_I_CONTEXT_EXPIRED) {
                const SecBuffer& token = output.buffers[0];
                if (token.pvBuffer != nullptr && token.cbBuffer > 0) {
                    static_cast<void>(send_token(conn, token));
                }
            }
        }
    }
    close_unlayered(conn);
}

void session::fail(connection& conn, std::error_code reason, bool alert_sent) {
    if (!failure_) {
        failure_ = reason;
    }
    {
        std::lock_guard lock(send_mutex_);
        phase_ = phase::failed;
        pending_.clear();
    }
    input_.clear();
    input_.shrink_to_fit();  // a flood of failed handshakes keeps no memory
    if (alert_sent) {
        close_unlayered(conn);  // the alert leaves first; close_timeout bounds the wait for the peer
    } else {
        conn.abort(failure_);
    }
}

}  // namespace wire::tls::detail
