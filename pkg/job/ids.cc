#include "pkg/job/ids.h"

#include <array>
#include <cstdint>

#include "absl/random/random.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace pixq::job {
namespace {

constexpr char kCrockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
constexpr size_t kUlidLength = 26;

}  // namespace

std::string NewJobId() {
  // 128 bits: 48 bits of time, 80 random bits; encoded as 26 base32 digits (130 bits, top 2 zero).
  // Monotonic in this process (ULID's monotonic variant): within one millisecond, or when the
  // clock steps back, the next id is the last one plus one, so ids made here sort in the order
  // they were made (GET /v1/jobs lists in id order).
  static absl::Mutex mu(absl::kConstInit);
  static uint64_t last_millis = 0;
  static std::array<uint8_t, 10> last_random{};
  std::array<uint8_t, 16> bytes{};
  {
    absl::MutexLock lock(&mu);
    uint64_t millis = static_cast<uint64_t>(absl::ToUnixMillis(absl::Now()));
    if (millis <= last_millis) {
      millis = last_millis;
      int i = 9;
      while (i >= 0 && ++last_random[i] == 0) --i;  // +1 with carry
      if (i < 0) ++millis;  // 2^80 ids in one millisecond: borrow the next one
    } else {
      thread_local absl::BitGen gen;
      for (uint8_t& b : last_random) b = absl::Uniform<uint8_t>(gen);
    }
    last_millis = millis;
    for (int i = 0; i < 6; ++i) bytes[i] = static_cast<uint8_t>(millis >> (8 * (5 - i)));
    for (int i = 0; i < 10; ++i) bytes[6 + i] = last_random[i];
  }
  std::string out = "j_";
  out.reserve(2 + kUlidLength);
  // Walk the 130-bit big-endian number 5 bits at a time; bit index 0 is the most significant of
  // 130.
  for (size_t digit = 0; digit < kUlidLength; ++digit) {
    int value = 0;
    for (int b = 0; b < 5; ++b) {
      const int bit = static_cast<int>(digit) * 5 + b - 2;  // two leading zero bits
      int v = 0;
      if (bit >= 0) v = (bytes[bit / 8] >> (7 - bit % 8)) & 1;
      value = (value << 1) | v;
    }
    out.push_back(kCrockford[value]);
  }
  return out;
}

bool IsJobId(std::string_view id) {
  if (id.size() != 2 + kUlidLength || id.substr(0, 2) != "j_") return false;
  for (char c : id.substr(2)) {
    bool ok = false;
    for (const char* p = kCrockford; *p != '\0'; ++p) ok = ok || *p == c;
    if (!ok) return false;
  }
  return true;
}

bool IsSha256Hex(std::string_view id) {
  if (id.size() != 64) return false;
  for (char c : id) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

std::string NowRfc3339() { return UnixMillisToRfc3339(absl::ToUnixMillis(absl::Now())); }

std::string UnixMillisToRfc3339(int64_t millis) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::FromUnixMillis(millis),
                          absl::UTCTimeZone());
}

int64_t NowUnixMillis() { return absl::ToUnixMillis(absl::Now()); }

int64_t Rfc3339ToUnixMillis(std::string_view text) {
  absl::Time t;
  std::string err;
  if (!absl::ParseTime(absl::RFC3339_full, std::string(text), &t, &err)) return -1;
  return absl::ToUnixMillis(t);
}

}  // namespace pixq::job
