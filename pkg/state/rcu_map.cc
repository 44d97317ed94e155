#include "pkg/state/rcu_map.h"

#include <atomic>
#include <functional>
#include <mutex>
#include <new>
#include <utility>

// The "bulletproof" flavour: threads register themselves on their first read, so Pistache's
// threads (which pixq does not create) can read without setup. With sys_membarrier (Linux 4.3
// and later) its read-side lock is a thread-local counter and a compiler barrier.
#include <urcu/urcu-bp.h>
// After the flavour, as rculfhash requires.
#include <urcu/rculfhash.h>

namespace pixq::state::internal {
namespace {

// A node is immutable once in the table: a new value is a new node, so a reader that found one
// reads it whole. The hash table links it through its cds_lfht_node base; call_rcu frees it
// through its rcu_head base once no reader can still hold it.
struct Node : cds_lfht_node, rcu_head {
  std::string key;
  std::shared_ptr<const void> value;
};

unsigned long HashOf(std::string_view key) { return std::hash<std::string_view>{}(key); }

int Matches(cds_lfht_node* node, const void* key) {
  return static_cast<Node*>(node)->key == *static_cast<const std::string_view*>(key) ? 1 : 0;
}

void FreeNode(rcu_head* head) { delete static_cast<Node*>(head); }

// Frees `node` after a grace period. Called inside a read-side critical section.
void Retire(cds_lfht_node* node) { urcu_bp_call_rcu(static_cast<Node*>(node), FreeNode); }

class ReadSection {
 public:
  ReadSection() { urcu_bp_read_lock(); }
  ~ReadSection() { urcu_bp_read_unlock(); }
  ReadSection(const ReadSection&) = delete;
  ReadSection& operator=(const ReadSection&) = delete;
};

}  // namespace

struct RcuTable::Impl {
  cds_lfht* table = nullptr;
  std::atomic<size_t> size{0};
  // Buckets the table has; a Put that takes the size past them grows the table (Grow).
  std::atomic<size_t> buckets{kFirstBuckets};
  std::mutex grow_mu;  // one resize at a time

  static constexpr size_t kFirstBuckets = 64;

  // Doubles the buckets until they are at least the items, so a chain holds about one node.
  // The table's own resizing (CDS_LFHT_AUTO_RESIZE with node accounting) is not used: in two of
  // four runs of the API benchmark (250k jobs submitted, then reads), cds_lfht_lookup took 28-36%
  // of the reads' CPU, about 10 µs a lookup, as if the table had stopped growing. Growing here,
  // on the writer's thread outside any read-side section, makes the size follow the count.
  void Grow(size_t items) {
    std::lock_guard<std::mutex> lock(grow_mu);
    size_t target = buckets.load(std::memory_order_relaxed);
    if (items <= target) return;
    while (target < items) target *= 2;
    cds_lfht_resize(table, target);
    buckets.store(target, std::memory_order_relaxed);
  }
};

RcuTable::RcuTable() : impl_(std::make_unique<Impl>()) {
  impl_->table =
      cds_lfht_new_flavor(Impl::kFirstBuckets, Impl::kFirstBuckets, 0, 0, &urcu_bp_flavor, nullptr);
  if (impl_->table == nullptr) throw std::bad_alloc();
}

RcuTable::~RcuTable() {
  {
    ReadSection section;
    cds_lfht_iter iter;
    cds_lfht_node* node = nullptr;
    cds_lfht_for_each(impl_->table, &iter, node) {
      if (cds_lfht_del(impl_->table, node) == 0) Retire(node);
    }
  }
  // Every node retired (here or earlier) is freed before the table goes.
  urcu_bp_barrier();
  cds_lfht_destroy(impl_->table, nullptr);
}

void RcuTable::Put(std::string key, std::shared_ptr<const void> value) {
  auto node = std::make_unique<Node>();
  cds_lfht_node_init(node.get());
  node->key = std::move(key);
  node->value = std::move(value);
  const std::string_view match = node->key;
  const unsigned long hash = HashOf(match);
  bool added = false;
  {
    ReadSection section;
    // The table owns the node from here on.
    if (cds_lfht_node* old =
            cds_lfht_add_replace(impl_->table, hash, Matches, &match, node.release())) {
      Retire(old);
    } else {
      added = true;
    }
  }
  if (!added) return;
  const size_t items = impl_->size.fetch_add(1, std::memory_order_relaxed) + 1;
  if (items > impl_->buckets.load(std::memory_order_relaxed)) impl_->Grow(items);
}

bool RcuTable::Erase(std::string_view key) {
  ReadSection section;
  cds_lfht_iter iter;
  cds_lfht_lookup(impl_->table, HashOf(key), Matches, &key, &iter);
  cds_lfht_node* node = cds_lfht_iter_get_node(&iter);
  // Of two erasing the same node (or an erase and a replace), only one succeeds and retires it.
  if (node == nullptr || cds_lfht_del(impl_->table, node) != 0) return false;
  Retire(node);
  impl_->size.fetch_sub(1, std::memory_order_relaxed);
  return true;
}

bool RcuTable::Read(std::string_view key, absl::FunctionRef<void(const void*)> read) const {
  ReadSection section;
  cds_lfht_iter iter;
  cds_lfht_lookup(impl_->table, HashOf(key), Matches, &key, &iter);
  cds_lfht_node* node = cds_lfht_iter_get_node(&iter);
  if (node == nullptr) return false;
  read(static_cast<Node*>(node)->value.get());
  return true;
}

size_t RcuTable::size() const { return impl_->size.load(std::memory_order_relaxed); }

}  // namespace pixq::state::internal
