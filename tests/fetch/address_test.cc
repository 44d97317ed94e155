// The SSRF guard's classifier, on numbers only: nothing here resolves or connects.
#include "pkg/fetch/address.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

namespace pixq::fetch {
namespace {

AddressClass ClassOf(const std::string& text) {
  absl::StatusOr<IpAddress> ip = ParseIp(text);
  EXPECT_TRUE(ip.ok()) << text;
  return ip.ok() ? Classify(*ip) : AddressClass::kPublic;
}

struct Case {
  const char* address;
  AddressClass expected;
};

TEST(AddressTest, ClassifiesEveryRangeAUrlMustNotReach) {
  const Case cases[] = {
      {"127.0.0.1", AddressClass::kLoopback},
      {"127.255.255.254", AddressClass::kLoopback},
      {"::1", AddressClass::kLoopback},
      {"0.0.0.0", AddressClass::kUnspecified},
      {"0.1.2.3", AddressClass::kUnspecified},
      {"::", AddressClass::kUnspecified},
      {"10.0.0.1", AddressClass::kPrivate},
      {"172.16.0.1", AddressClass::kPrivate},
      {"172.31.255.255", AddressClass::kPrivate},
      {"192.168.1.1", AddressClass::kPrivate},
      {"fc00::1", AddressClass::kPrivate},
      {"fd12:3456::1", AddressClass::kPrivate},
      {"fd00:ec2::254", AddressClass::kPrivate},  // AWS's IPv6 metadata service
      {"fec0::1", AddressClass::kPrivate},
      {"169.254.169.254", AddressClass::kLinkLocal},  // the cloud metadata service
      {"169.254.0.1", AddressClass::kLinkLocal},
      {"fe80::1", AddressClass::kLinkLocal},
      {"febf::1", AddressClass::kLinkLocal},
      {"100.64.0.1", AddressClass::kCarrierNat},
      {"100.127.255.255", AddressClass::kCarrierNat},
      {"224.0.0.1", AddressClass::kMulticast},
      {"239.255.255.250", AddressClass::kMulticast},
      {"ff02::1", AddressClass::kMulticast},
      {"255.255.255.255", AddressClass::kBroadcast},
      {"240.0.0.1", AddressClass::kReserved},
      {"192.0.2.10", AddressClass::kReserved},
      {"198.18.0.1", AddressClass::kReserved},
      {"198.51.100.7", AddressClass::kReserved},
      {"203.0.113.9", AddressClass::kReserved},
      {"192.0.0.170", AddressClass::kReserved},
      {"2001:db8::1", AddressClass::kReserved},
      {"2001::1", AddressClass::kReserved},  // Teredo: hides an IPv4 address
      {"100::1", AddressClass::kReserved},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(ClassOf(c.address), c.expected)
        << c.address << " is " << ClassName(ClassOf(c.address)) << ", expected "
        << ClassName(c.expected);
  }
}

TEST(AddressTest, SeesTheIpv4AddressInsideEveryIpv6Form) {
  const Case cases[] = {
      {"::ffff:127.0.0.1", AddressClass::kLoopback},    // IPv4-mapped
      {"::ffff:7f00:1", AddressClass::kLoopback},       // the same, in hex
      {"::ffff:0:127.0.0.1", AddressClass::kLoopback},  // IPv4-translated
      {"::127.0.0.1", AddressClass::kLoopback},         // IPv4-compatible
      {"::ffff:169.254.169.254", AddressClass::kLinkLocal},
      {"::ffff:10.1.2.3", AddressClass::kPrivate},
      {"64:ff9b::10.0.0.1", AddressClass::kPrivate},       // NAT64
      {"64:ff9b:1::a9fe:a9fe", AddressClass::kLinkLocal},  // local-use NAT64, 169.254.169.254
      {"2002:7f00:1::", AddressClass::kLoopback},          // 6to4 of 127.0.0.1
      {"2002:a9fe:a9fe::1", AddressClass::kLinkLocal},     // 6to4 of 169.254.169.254
      {"::ffff:100.64.1.1", AddressClass::kCarrierNat},
      {"::ffff:8.8.8.8", AddressClass::kPublic},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(ClassOf(c.address), c.expected)
        << c.address << " is " << ClassName(ClassOf(c.address)) << ", expected "
        << ClassName(c.expected);
  }
}

TEST(AddressTest, PublicAddressesAreAllowedByDefault) {
  AddressPolicy policy;
  for (const char* text :
       {"8.8.8.8", "1.1.1.1", "93.184.216.34", "100.63.255.255", "100.128.0.1", "172.15.255.255",
        "172.32.0.1", "169.253.1.1", "2606:4700:4700::1111", "2a00:1450:4001:80b::200e"}) {
    absl::StatusOr<IpAddress> ip = ParseIp(text);
    ASSERT_TRUE(ip.ok()) << text;
    EXPECT_EQ(Classify(*ip), AddressClass::kPublic) << text;
    EXPECT_TRUE(policy.Allows(*ip)) << text;
  }
  for (const char* text : {"127.0.0.1", "::1", "169.254.169.254", "10.0.0.1", "::ffff:127.0.0.1",
                           "fd00::1", "100.64.0.1", "0.0.0.0"}) {
    absl::StatusOr<IpAddress> ip = ParseIp(text);
    ASSERT_TRUE(ip.ok()) << text;
    EXPECT_FALSE(policy.Allows(*ip)) << text;
  }
}

TEST(AddressTest, AnAllowListOpensExactlyItsRanges) {
  absl::StatusOr<AddressPolicy> policy = AddressPolicy::FromStrings({"127.0.0.1", "10.20.0.0/16"});
  ASSERT_TRUE(policy.ok()) << policy.status();
  auto allows = [&](const char* text) { return policy->Allows(*ParseIp(text)); };
  EXPECT_TRUE(allows("127.0.0.1"));
  EXPECT_TRUE(allows("::ffff:127.0.0.1"));  // the same address, IPv4-mapped
  EXPECT_FALSE(allows("127.0.0.2"));
  EXPECT_FALSE(allows("::1"));
  EXPECT_TRUE(allows("10.20.255.1"));
  EXPECT_FALSE(allows("10.21.0.1"));
  EXPECT_FALSE(allows("169.254.169.254"));
  EXPECT_TRUE(allows("8.8.8.8"));
}

TEST(AddressTest, RefusesRangesThatAreNotRanges) {
  for (const char* bad : {"", "localhost", "10.0.0.0/33", "::/129", "10.0.0.0/-1", "10.0.0/8",
                          "0x7f000001", "1.2.3.4/abc"}) {
    absl::StatusOr<AddressPolicy> policy = AddressPolicy::FromStrings({bad});
    EXPECT_FALSE(policy.ok()) << bad;
  }
}

TEST(AddressTest, ParsesOnlyCanonicalAddresses) {
  EXPECT_TRUE(ParseIp("[::1]").ok());
  EXPECT_FALSE(ParseIp("127.1").ok());  // a name to the resolver, checked after resolving
  EXPECT_FALSE(ParseIp("2130706433").ok());
  EXPECT_FALSE(ParseIp("0x7f000001").ok());
  EXPECT_EQ(ParseIp("::ffff:7f00:1")->ToString(), "::ffff:127.0.0.1");
}

TEST(AddressTest, ReadsSocketAddresses) {
  sockaddr_in in{};
  in.sin_family = AF_INET;
  in.sin_addr.s_addr = htonl(0xA9FEA9FE);
  std::optional<IpAddress> ip = FromSockaddr(reinterpret_cast<sockaddr*>(&in));
  ASSERT_TRUE(ip.has_value());
  EXPECT_EQ(ip->ToString(), "169.254.169.254");
  EXPECT_EQ(Classify(*ip), AddressClass::kLinkLocal);
  sockaddr_in6 in6{};
  in6.sin6_family = AF_INET6;
  in6.sin6_addr = in6addr_loopback;
  ip = FromSockaddr(reinterpret_cast<sockaddr*>(&in6));
  ASSERT_TRUE(ip.has_value());
  EXPECT_EQ(Classify(*ip), AddressClass::kLoopback);
  sockaddr unix_address{};
  unix_address.sa_family = AF_UNIX;
  EXPECT_FALSE(FromSockaddr(&unix_address).has_value());
}

}  // namespace
}  // namespace pixq::fetch
