// Connecting by host name: the real resolver for "localhost", and through the system-call seam the
// cases Wine cannot show on demand (an asynchronous or immediate answer with several addresses, a
// name that does not exist, a system without asynchronous lookups).
#include "test_support.h"

#include "win/system_calls.h"

#include <cstring>

namespace wire::test {
namespace {

using lookup_routine = void(CALLBACK*)(DWORD, DWORD, LPWSAOVERLAPPED);

// Replaces GetAddrInfoExW for the engines created while it lives.
class fake_names {
public:
    enum class answer { asynchronously, at_once, not_found, no_async_support };

    fake_names(answer how, std::vector<endpoint> addresses) {
        current_ = this;
        how_ = how;
        addresses_ = std::move(addresses);
        table_ = detail::native_system_calls();
        table_.get_addr_info_ex = &get_addr_info_ex;
        table_.free_addr_info_ex = &free_addr_info_ex;
        detail::install_system_calls(&table_);
    }
    ~fake_names() {
        detail::install_system_calls(nullptr);
        for (auto& t : answers_) {
            t.join();
        }
        current_ = nullptr;
    }
    fake_names(const fake_names&) = delete;
    fake_names& operator=(const fake_names&) = delete;

    [[nodiscard]] int lookups() const { return lookups_.load(); }

private:
    struct node {
        ADDRINFOEXW info{};
        sockaddr_storage address{};
    };

    static PADDRINFOEXW make_list(const std::vector<endpoint>& addresses) {
        PADDRINFOEXW head = nullptr;
        for (auto it = addresses.rbegin(); it != addresses.rend(); ++it) {
            auto* n = new node;
            std::memcpy(&n->address, it->data(), static_cast<std::size_t>(it->size()));
            n->info.ai_family = it->is_v6() ? AF_INET6 : AF_INET;
            n->info.ai_socktype = SOCK_STREAM;
            n->info.ai_protocol = IPPROTO_TCP;
            n->info.ai_addrlen = static_cast<std::size_t>(it->size());
            n->info.ai_addr = reinterpret_cast<sockaddr*>(&n->address);
            n->info.ai_next = reinterpret_cast<decltype(n->info.ai_next)>(head);
            head = &n->info;
        }
        return head;
    }

    static INT WSAAPI get_addr_info_ex(PCWSTR, PCWSTR service, DWORD, LPGUID, const ADDRINFOEXW*, PADDRINFOEXW* result,
                                       timeval*, LPOVERLAPPED overlapped, LPLOOKUPSERVICE_COMPLETION_ROUTINE routine,
                                       LPHANDLE cancel) {
        fake_names& self = *current_;
        ++self.lookups_;
        if (cancel != nullptr) {
            *cancel = nullptr;  // as Wine: nothing to cancel with
        }
        const auto port = static_cast<std::uint16_t>(std::wcstoul(service, nullptr, 10));
        std::vector<endpoint> with_port;
        for (const endpoint& e : self.addresses_) {
            with_port.push_back(*endpoint::parse(e.address(), port));
        }
        switch (self.how_) {
        case answer::not_found:
            return WSAHOST_NOT_FOUND;
        case answer::no_async_support:
            return overlapped != nullptr ? WSAEINVAL : WSAHOST_NOT_FOUND;
        case answer::at_once:
            *result = make_list(with_port);
            return NO_ERROR;
        case answer::asynchronously:
            break;
        }
        // As Windows does: the routine runs later on a thread that is not the caller's.
        self.answers_.emplace_back([result, overlapped, routine, list = make_list(with_port)] {
            std::this_thread::sleep_for(20ms);
            *result = list;
            reinterpret_cast<lookup_routine>(routine)(NO_ERROR, 0, overlapped);
        });
        return WSA_IO_PENDING;
    }

    static void WSAAPI free_addr_info_ex(PADDRINFOEXW list) {
        while (list != nullptr) {
            auto* n = reinterpret_cast<node*>(list);  // info is node's first member
            list = reinterpret_cast<PADDRINFOEXW>(list->ai_next);
            delete n;
        }
    }

    static inline fake_names* current_ = nullptr;
    answer how_ = answer::asynchronously;
    std::vector<endpoint> addresses_;
    detail::system_calls table_{};
    std::vector<std::thread> answers_;
    std::atomic<int> lookups_{0};
};

// Connects to `host`, sends 1 KiB, expects it back, closes; the handler's events in `rec`, the
// address it was connected to in `remote` (read before closing: on_close may run at once after).
void exchange_by_name(engine& e, const std::string& host, std::uint16_t port, const std::shared_ptr<recorder>& rec,
                      endpoint* remote = nullptr) {
    const auto payload = random_bytes(1024, 9);
    connection c = e.connect(host, port, std::make_unique<recording_handler>(rec), payload);
    ASSERT_TRUE(eventually([&] { return rec->received_size() == payload.size() || rec->is_closed(); }));
    {
        std::lock_guard lock(rec->mutex);
        EXPECT_EQ(rec->opened, 1) << rec->reason.message();
        EXPECT_TRUE(rec->received == payload);
    }
    if (remote != nullptr) {
        *remote = c.remote_endpoint();
    }
    c.close();
}

TEST(Resolve, LocalhostResolvesAndConnects) {
    engine server;
    listener l = server.listen(endpoint::loopback_v4(0), echo_factory());
    engine client;
    auto rec = std::make_shared<recorder>();
    exchange_by_name(client, "localhost", l.local_endpoint().port(), rec);
    EXPECT_EQ(client.stats().connections_connected, 1U);
    expect_stopped_clean(client);
}

TEST(Resolve, EachAddressIsTriedInTurnUntilOneConnects) {
    engine server;
    listener l = server.listen(endpoint::loopback_v4(0), echo_factory());
    for (auto how : {fake_names::answer::asynchronously, fake_names::answer::at_once}) {
        // 127.0.0.2 and ::1 refuse (nothing listens there on that port); 127.0.0.1 accepts.
        fake_names names(how, {*endpoint::parse("127.0.0.2", 0), *endpoint::parse("::1", 0), *endpoint::parse("127.0.0.1", 0)});
        engine client;
        auto rec = std::make_shared<recorder>();
        endpoint remote;
        exchange_by_name(client, "three.example", l.local_endpoint().port(), rec, &remote);
        EXPECT_EQ(names.lookups(), 1);
        EXPECT_EQ(client.stats().connections_connected, 1U);
        EXPECT_EQ(remote, l.local_endpoint());
        expect_stopped_clean(client);
    }
}

TEST(Resolve, WhenEveryAddressRefusesTheLastErrorIsReported) {
    engine server;
    listener l = server.listen(endpoint::loopback_v4(0), echo_factory());
    fake_names names(fake_names::answer::asynchronously, {*endpoint::parse("127.0.0.2", 0), *endpoint::parse("127.0.0.3", 0)});
    engine client;
    auto rec = std::make_shared<recorder>();
    connection c = client.connect("two.example", l.local_endpoint().port(), std::make_unique<recording_handler>(rec));
    ASSERT_TRUE(eventually([&] { return rec->is_closed(); }));
    std::lock_guard lock(rec->mutex);
    EXPECT_EQ(rec->opened, 0);
    EXPECT_EQ(rec->reason, std::error_code(WSAECONNREFUSED, std::system_category())) << rec->reason.message();
    EXPECT_EQ(client.stats().connect_failures, 1U);  // one connection failed, however many addresses
}

TEST(Resolve, ANameThatDoesNotResolveFailsWithAClearError) {
    fake_names names(fake_names::answer::not_found, {});
    engine client;
    auto rec = std::make_shared<recorder>();
    connection c = client.connect("no-such-host.invalid", 80, std::make_unique<recording_handler>(rec));
    ASSERT_TRUE(eventually([&] { return rec->is_closed(); }));
    {
        std::lock_guard lock(rec->mutex);
        EXPECT_EQ(rec->opened, 0);
        EXPECT_EQ(rec->reason, std::error_code(WSAHOST_NOT_FOUND, std::system_category())) << rec->reason.message();
    }
    EXPECT_THROW((void)client.connect("", 80, std::make_unique<recording_handler>(rec)), std::invalid_argument);
    c = {};
    expect_stopped_clean(client);
}

TEST(Resolve, WithoutAsynchronousLookupsAWorkerResolves) {
    engine server;
    listener l = server.listen(endpoint::loopback_v4(0), echo_factory());
    fake_names names(fake_names::answer::no_async_support, {});
    engine client;
    auto rec = std::make_shared<recorder>();
    exchange_by_name(client, "localhost", l.local_endpoint().port(), rec);  // GetAddrInfoW, the real one
    EXPECT_EQ(names.lookups(), 1);
    expect_stopped_clean(client);
}

TEST(Resolve, NumericHostsSkipTheLookup) {
    engine server;
    listener l = server.listen(endpoint::loopback_v4(0), echo_factory());
    fake_names names(fake_names::answer::not_found, {});
    engine client;
    auto rec = std::make_shared<recorder>();
    exchange_by_name(client, "127.0.0.1", l.local_endpoint().port(), rec);
    EXPECT_EQ(names.lookups(), 0);
}

TEST(Resolve, StopWhileALookupIsOutstandingWaitsForItAndReportsStopped) {
    fake_names names(fake_names::answer::asynchronously, {*endpoint::parse("127.0.0.1", 0)});
    engine client;
    auto rec = std::make_shared<recorder>();
    connection c = client.connect("slow.example", 9, std::make_unique<recording_handler>(rec));
    client.stop();  // the fake answers after 20 ms: stop waits for the packet, then the connection ends
    {
        std::lock_guard lock(rec->mutex);
        EXPECT_EQ(rec->opened, 0);
        EXPECT_EQ(rec->closed, 1);
        EXPECT_EQ(rec->reason, error::engine_stopped);
    }
    EXPECT_EQ(client.stats().operations_pending, 0U);
}

}  // namespace
}  // namespace wire::test
