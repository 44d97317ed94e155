#include "pkg/state/rcu_map.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <future>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace pixq::state {
namespace {

// A value whose parts must agree: a reader that saw a half-written or freed one would notice.
struct Versioned {
  int64_t version = 0;
  std::string text;  // the version, spelled out, repeated: a heap buffer of its own

  static std::shared_ptr<const Versioned> Make(int64_t version) {
    std::string one = std::to_string(version) + ";";
    std::string text;
    for (int i = 0; i < 8; ++i) text += one;
    return std::make_shared<const Versioned>(Versioned{version, text});
  }
  bool Whole() const { return *this == *Make(version); }
  bool operator==(const Versioned& other) const {
    return version == other.version && text == other.text;
  }
};

TEST(RcuMapTest, PutsReplacesAndErases) {
  RcuMap<Versioned> map;
  EXPECT_FALSE(map.Get("a").has_value());
  map.Put("a", Versioned::Make(1));
  map.Put("b", Versioned::Make(2));
  ASSERT_TRUE(map.Get("a").has_value());
  EXPECT_EQ(map.Get("a")->version, 1);
  EXPECT_EQ(map.size(), 2u);
  map.Put("a", Versioned::Make(3));
  EXPECT_EQ(map.Get("a")->version, 3);
  EXPECT_EQ(map.size(), 2u);
  EXPECT_TRUE(map.Erase("a"));
  EXPECT_FALSE(map.Erase("a"));
  EXPECT_FALSE(map.Get("a").has_value());
  EXPECT_EQ(map.Get("b")->version, 2);
  EXPECT_EQ(map.size(), 1u);
}

TEST(RcuMapTest, GrowsPastItsFirstBuckets) {
  RcuMap<Versioned> map;
  for (int64_t i = 0; i < 20000; ++i) map.Put("key-" + std::to_string(i), Versioned::Make(i));
  EXPECT_EQ(map.size(), 20000u);
  for (int64_t i = 0; i < 20000; i += 997) {
    auto value = map.Get("key-" + std::to_string(i));
    ASSERT_TRUE(value.has_value()) << i;
    EXPECT_EQ(value->version, i);
  }
}

TEST(RcuMapTest, ReleasesReplacedAndErasedValuesAndTheRestWithTheMap) {
  std::shared_ptr<const Versioned> first = Versioned::Make(1);
  std::weak_ptr<const Versioned> replaced = first;
  std::shared_ptr<const Versioned> second = Versioned::Make(2);
  std::weak_ptr<const Versioned> kept = second;
  {
    RcuMap<Versioned> map;
    map.Put("a", std::move(first));
    map.Put("b", std::move(second));
    map.Put("a", Versioned::Make(3));
    EXPECT_FALSE(kept.expired());
  }
  // The map's destructor waits for every value it retired to be released.
  EXPECT_TRUE(replaced.expired());
  EXPECT_TRUE(kept.expired());
}

// A value replaced or erased while a reader holds it stays whole until the reader is done, and
// the writer does not wait for that reader.
TEST(RcuMapTest, AWriterNeitherWaitsForNorFreesUnderAReader) {
  internal::RcuTable table;
  table.Put("a", Versioned::Make(1));
  std::promise<void> written;
  std::future<void> done = written.get_future();
  std::thread writer;
  const bool found = table.Read("a", [&](const void* value) {
    const auto* held = static_cast<const Versioned*>(value);
    writer = std::thread([&] {
      table.Put("a", Versioned::Make(2));
      table.Erase("a");
      written.set_value();
    });
    // A writer that waited for this reader would never get here: the reader waits for it.
    EXPECT_EQ(done.wait_for(std::chrono::seconds(60)), std::future_status::ready);
    // Under AddressSanitizer a freed value would fail here.
    EXPECT_EQ(held->version, 1);
    EXPECT_TRUE(held->Whole());
  });
  writer.join();
  EXPECT_TRUE(found);
  EXPECT_FALSE(table.Read("a", [](const void*) { ADD_FAILURE() << "erased"; }));
}

// Readers on several threads, a writer replacing and erasing the same keys: every value read is
// whole, and no reader sees a key's version go back.
TEST(RcuMapTest, ConcurrentReadersSeeWholeValuesThatNeverGoBack) {
  constexpr int kKeys = 64;
  constexpr int64_t kWrites = 40000;
  constexpr int kReaders = 3;
  RcuMap<Versioned> map;
  auto key = [](int64_t i) { return "job-" + std::to_string(i % kKeys); };
  for (int64_t i = 0; i < kKeys; ++i) map.Put(key(i), Versioned::Make(i));
  std::atomic<bool> stop{false};
  std::vector<std::thread> readers;
  std::vector<int64_t> reads(kReaders, 0);
  std::vector<int64_t> broken(kReaders, 0);
  for (int r = 0; r < kReaders; ++r) {
    readers.emplace_back([&, r] {
      std::map<std::string, int64_t> last;
      for (int64_t n = 0; !stop.load(std::memory_order_relaxed); ++n) {
        const std::string k = key(n * 7 + r);
        std::optional<Versioned> value = map.Get(k);
        std::atomic_ref<int64_t>(reads[r]).fetch_add(1);
        if (!value) continue;  // erased for a moment
        if (!value->Whole() || value->version < last[k]) ++broken[r];
        last[k] = value->version;
      }
    });
  }
  // Versions only grow per key: write i puts version i (same key as i % kKeys); every 16th
  // write erases the key first. The writes go on until every reader has read a while too.
  auto fewest_reads = [&] {
    int64_t fewest = INT64_MAX;
    for (int r = 0; r < kReaders; ++r) {
      fewest = std::min(fewest, std::atomic_ref<int64_t>(reads[r]).load());
    }
    return fewest;
  };
  for (int64_t i = kKeys; i < kKeys + kWrites || fewest_reads() < kWrites; ++i) {
    if (i % 16 == 0) map.Erase(key(i));
    map.Put(key(i), Versioned::Make(i));
  }
  stop = true;
  for (std::thread& t : readers) t.join();
  for (int r = 0; r < kReaders; ++r) {
    EXPECT_GT(reads[r], 0) << "reader " << r;
    EXPECT_EQ(broken[r], 0) << "reader " << r << " saw a torn or older value";
  }
  EXPECT_EQ(map.size(), static_cast<size_t>(kKeys));
}

}  // namespace
}  // namespace pixq::state
