#pragma once

// The SSRF guard's address classifier: which IP addresses a URL download may connect to.
//
// Denied by default: every address that is not plainly public: loopback, unspecified, private
// (RFC 1918, IPv6 unique local and site local), link local (169.254/16 holds the cloud metadata
// service, fe80::/10), CGNAT (100.64/10), multicast, broadcast, reserved and documentation ranges,
// and these same IPv4 addresses embedded in IPv6 (IPv4-mapped ::ffff:a.b.c.d, IPv4-compatible
// ::a.b.c.d, NAT64 64:ff9b::/96, 6to4 2002::/16). An operator may allow ranges explicitly
// (AddressPolicy), e.g. an internal image store; the integration tests allow loopback.
//
// Pure functions on numbers: nothing here resolves a name or opens a socket.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

struct sockaddr;

namespace pixq::fetch {

struct IpAddress {
  bool v6 = false;
  // IPv4 in bytes[0..3]; IPv6 in all sixteen, network order.
  std::array<uint8_t, 16> bytes{};

  [[nodiscard]] std::string ToString() const;
  bool operator==(const IpAddress&) const = default;
};

// "192.0.2.1", "2001:db8::1", "[::1]" (brackets allowed). Only the canonical dotted-quad form for
// IPv4: a host such as "0x7f000001" is a name here, and whatever it resolves to is checked.
[[nodiscard]] absl::StatusOr<IpAddress> ParseIp(std::string_view text);
// From a socket address (AF_INET or AF_INET6); nullopt for any other family.
[[nodiscard]] std::optional<IpAddress> FromSockaddr(const sockaddr* address);

enum class AddressClass {
  kPublic,
  kLoopback,
  kUnspecified,  // 0.0.0.0/8, ::
  kPrivate,      // 10/8, 172.16/12, 192.168/16, fc00::/7, fec0::/10
  kLinkLocal,    // 169.254/16 (cloud metadata), fe80::/10
  kCarrierNat,   // 100.64/10
  kMulticast,    // 224/4, ff00::/8
  kBroadcast,    // 255.255.255.255
  kReserved,     // 240/4, 192.0.0/24, benchmarking 198.18/15, documentation, discard 100::/64
};
[[nodiscard]] std::string_view ClassName(AddressClass c);

// The class of `address`; an IPv6 address that embeds an IPv4 one has the IPv4 address's class.
[[nodiscard]] AddressClass Classify(const IpAddress& address);

// A range: "10.0.0.0/8", "fd00::/8", or one address ("127.0.0.1" is /32).
struct Cidr {
  IpAddress network;
  int prefix = 0;
  [[nodiscard]] bool Contains(const IpAddress& address) const;
};
[[nodiscard]] absl::StatusOr<Cidr> ParseCidr(std::string_view text);

// Public addresses are allowed, everything else denied unless an allowed range contains it (or,
// for an IPv6 form of an IPv4 address, contains that IPv4 address).
class AddressPolicy final {
 public:
  AddressPolicy() = default;
  explicit AddressPolicy(std::vector<Cidr> allowed) : allowed_(std::move(allowed)) {}
  // Errors: "InvalidConfig" naming the entry that is not a range.
  [[nodiscard]] static absl::StatusOr<AddressPolicy> FromStrings(
      const std::vector<std::string>& allowed);

  [[nodiscard]] bool Allows(const IpAddress& address) const;

 private:
  std::vector<Cidr> allowed_;
};

}  // namespace pixq::fetch
