#include "pkg/fetch/address.h"

#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "pkg/errors/errors.h"

namespace pixq::fetch {
namespace {

IpAddress V4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  IpAddress ip;
  ip.bytes[0] = a;
  ip.bytes[1] = b;
  ip.bytes[2] = c;
  ip.bytes[3] = d;
  return ip;
}

bool AllZero(const IpAddress& ip, int from, int to) {
  for (int i = from; i < to; ++i) {
    if (ip.bytes[i] != 0) return false;
  }
  return true;
}

// The IPv4 address an IPv6 address stands for, where it stands for one.
std::optional<IpAddress> EmbeddedV4(const IpAddress& ip) {
  if (!ip.v6) return std::nullopt;
  const auto& b = ip.bytes;
  auto tail = [&](int at) { return V4(b[at], b[at + 1], b[at + 2], b[at + 3]); };
  // ::ffff:a.b.c.d (mapped) and ::ffff:0:a.b.c.d (translated)
  if (AllZero(ip, 0, 10) && b[10] == 0xff && b[11] == 0xff) return tail(12);
  if (AllZero(ip, 0, 8) && b[8] == 0xff && b[9] == 0xff && b[10] == 0 && b[11] == 0) {
    return tail(12);
  }
  // ::a.b.c.d (compatible, deprecated), but not :: and ::1 themselves
  if (AllZero(ip, 0, 12) && !(AllZero(ip, 12, 15) && b[15] <= 1)) return tail(12);
  // 64:ff9b::/96 (NAT64) and 64:ff9b:1::/48 (local-use NAT64)
  if (b[0] == 0 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b) {
    if (AllZero(ip, 4, 12) || (b[4] == 0 && b[5] == 1)) return tail(12);
  }
  // 2002:a.b.c.d::/48 (6to4)
  if (b[0] == 0x20 && b[1] == 0x02) return tail(2);
  return std::nullopt;
}

bool InV4(const IpAddress& ip, uint8_t a, uint8_t b, uint8_t c, uint8_t d, int prefix) {
  return Cidr{V4(a, b, c, d), prefix}.Contains(ip);
}

AddressClass ClassifyV4(const IpAddress& ip) {
  const uint8_t a = ip.bytes[0];
  if (a == 127) return AddressClass::kLoopback;
  if (a == 0) return AddressClass::kUnspecified;
  if (a == 10 || InV4(ip, 172, 16, 0, 0, 12) || InV4(ip, 192, 168, 0, 0, 16)) {
    return AddressClass::kPrivate;
  }
  if (InV4(ip, 169, 254, 0, 0, 16)) return AddressClass::kLinkLocal;
  if (InV4(ip, 100, 64, 0, 0, 10)) return AddressClass::kCarrierNat;
  if (InV4(ip, 255, 255, 255, 255, 32)) return AddressClass::kBroadcast;
  if (a >= 224 && a <= 239) return AddressClass::kMulticast;
  if (a >= 240 || InV4(ip, 192, 0, 0, 0, 24) || InV4(ip, 192, 0, 2, 0, 24) ||
      InV4(ip, 198, 18, 0, 0, 15) || InV4(ip, 198, 51, 100, 0, 24) ||
      InV4(ip, 203, 0, 113, 0, 24) || InV4(ip, 192, 88, 99, 0, 24)) {
    return AddressClass::kReserved;
  }
  return AddressClass::kPublic;
}

AddressClass ClassifyV6(const IpAddress& ip) {
  const auto& b = ip.bytes;
  if (AllZero(ip, 0, 16)) return AddressClass::kUnspecified;
  if (AllZero(ip, 0, 15) && b[15] == 1) return AddressClass::kLoopback;
  if (std::optional<IpAddress> v4 = EmbeddedV4(ip)) return ClassifyV4(*v4);
  if (b[0] == 0xff) return AddressClass::kMulticast;
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return AddressClass::kLinkLocal;
  if ((b[0] & 0xfe) == 0xfc) return AddressClass::kPrivate;                  // fc00::/7
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0) return AddressClass::kPrivate;  // fec0::/10
  // Only 2000::/3 is handed out as global unicast; within it, Teredo (2001::/32), ORCHIDs and
  // other IETF assignments (2001::/23) and documentation (2001:db8::/32) are not destinations.
  if ((b[0] & 0xe0) != 0x20) return AddressClass::kReserved;
  if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8) return AddressClass::kReserved;
  if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0 && (b[3] & 0xfe) == 0) {
    return AddressClass::kReserved;
  }
  return AddressClass::kPublic;
}

}  // namespace

std::string IpAddress::ToString() const {
  char text[INET6_ADDRSTRLEN] = {0};
  ::inet_ntop(v6 ? AF_INET6 : AF_INET, bytes.data(), text, sizeof(text));
  return text;
}

absl::StatusOr<IpAddress> ParseIp(std::string_view text) {
  std::string s(text);
  if (s.size() >= 2 && s.front() == '[' && s.back() == ']') s = s.substr(1, s.size() - 2);
  IpAddress ip;
  if (::inet_pton(AF_INET, s.c_str(), ip.bytes.data()) == 1) return ip;
  ip.v6 = true;
  if (::inet_pton(AF_INET6, s.c_str(), ip.bytes.data()) == 1) return ip;
  return errors::Make(errors::Reason::kInvalidAddress, absl::StrCat("not an IP address: ", s));
}

std::optional<IpAddress> FromSockaddr(const sockaddr* address) {
  if (address == nullptr) return std::nullopt;
  IpAddress ip;
  if (address->sa_family == AF_INET) {
    sockaddr_in in;
    std::memcpy(&in, address, sizeof(in));
    std::memcpy(ip.bytes.data(), &in.sin_addr, 4);
    return ip;
  }
  if (address->sa_family == AF_INET6) {
    sockaddr_in6 in6;
    std::memcpy(&in6, address, sizeof(in6));
    ip.v6 = true;
    std::memcpy(ip.bytes.data(), &in6.sin6_addr, 16);
    return ip;
  }
  return std::nullopt;
}

std::string_view ClassName(AddressClass c) {
  switch (c) {
    case AddressClass::kPublic:
      return "public";
    case AddressClass::kLoopback:
      return "loopback";
    case AddressClass::kUnspecified:
      return "unspecified";
    case AddressClass::kPrivate:
      return "private";
    case AddressClass::kLinkLocal:
      return "link-local";
    case AddressClass::kCarrierNat:
      return "carrier-grade NAT";
    case AddressClass::kMulticast:
      return "multicast";
    case AddressClass::kBroadcast:
      return "broadcast";
    case AddressClass::kReserved:
      return "reserved";
  }
  return "reserved";
}

AddressClass Classify(const IpAddress& address) {
  return address.v6 ? ClassifyV6(address) : ClassifyV4(address);
}

bool Cidr::Contains(const IpAddress& address) const {
  if (address.v6 != network.v6) return false;
  const int bits = network.v6 ? 128 : 32;
  const int prefix_bits = std::clamp(prefix, 0, bits);
  const int full = prefix_bits / 8;
  for (int i = 0; i < full; ++i) {
    if (address.bytes[i] != network.bytes[i]) return false;
  }
  if (const int rest = prefix_bits % 8; rest != 0) {
    const uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
    if ((address.bytes[full] & mask) != (network.bytes[full] & mask)) return false;
  }
  return true;
}

absl::StatusOr<Cidr> ParseCidr(std::string_view text) {
  const size_t slash = text.find('/');
  absl::StatusOr<IpAddress> ip = ParseIp(text.substr(0, slash));
  if (!ip.ok())
    return errors::Make(errors::Reason::kInvalidAddress,
                        absl::StrCat("not a range: ", errors::Sv(text)));
  const int bits = ip->v6 ? 128 : 32;
  int prefix = bits;
  if (slash != std::string_view::npos &&
      (!absl::SimpleAtoi(errors::Sv(text.substr(slash + 1)), &prefix) || prefix < 0 ||
       prefix > bits)) {
    return errors::Make(errors::Reason::kInvalidAddress,
                        absl::StrCat("not a range: ", errors::Sv(text)));
  }
  return Cidr{*ip, prefix};
}

absl::StatusOr<AddressPolicy> AddressPolicy::FromStrings(const std::vector<std::string>& allowed) {
  std::vector<Cidr> ranges;
  for (const std::string& entry : allowed) {
    absl::StatusOr<Cidr> cidr = ParseCidr(entry);
    if (!cidr.ok()) {
      return errors::Make(errors::Reason::kInvalidConfig,
                          absl::StrCat("fetch.allow: ", cidr.status().message()));
    }
    ranges.push_back(*cidr);
  }
  return AddressPolicy(std::move(ranges));
}

bool AddressPolicy::Allows(const IpAddress& address) const {
  if (Classify(address) == AddressClass::kPublic) return true;
  const std::optional<IpAddress> v4 = EmbeddedV4(address);
  for (const Cidr& range : allowed_) {
    if (range.Contains(address) || (v4 && range.Contains(*v4))) return true;
  }
  return false;
}

}  // namespace pixq::fetch
