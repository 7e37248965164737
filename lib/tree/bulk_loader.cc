#include "lib/tree/bulk_loader.h"

#include <algorithm>

#include "whycache/error.h"

namespace whycache::tree {

namespace {

// Leaves indexed at once: enough for dozens per hash page of a large index, so that each sweep
// through the index places many on every page (16 MB, twice over while they are grouped).
constexpr size_t kIndexBatch = size_t{1} << 20;

}  // namespace

uint64_t LoadedBytesBound(uint64_t keys, uint64_t raw_bytes) {
  // Leaves: header, padding to 8 twice, size classes round up by at most 1/8. Inner nodes: at
  // most keys - 1 of them with at most 2 * keys entries in all, none above 48 bytes per entry
  // (a Node256 of 49 children), plus compressed paths, which are no longer than the keys. The
  // hash index: pages at least 3/8 full.
  const uint64_t leaves = raw_bytes + raw_bytes / 8 + keys * 33;
  const uint64_t inner = raw_bytes + keys * 103;
  const uint64_t index = keys * 22 + 2 * kHashPageBytes;
  return leaves + inner + index + (uint64_t{64} << 10);
}

BulkLoader::BulkLoader(char* base, const Space& space, Allocator* alloc, uint64_t expected_keys)
    : base_(base), alloc_(alloc), index_(base, space, alloc, 0, 0), reserved_keys_(expected_keys) {
  index_.Reserve(expected_keys);
  unindexed_.reserve(std::min<uint64_t>(expected_keys, kIndexBatch));
}

void BulkLoader::Add(std::string_view key, std::string_view value) {
  const uint64_t off = alloc_->Allocate(LeafBytes(key.size(), value.size()));
  WriteLeaf(base_ + off, key, value);
  const Ref leaf = off | 1;
  const LeafHeader* l = reinterpret_cast<const LeafHeader*>(base_ + off);
  const std::string_view stored = LeafKey(l);

  size_t lcp = 0;
  if (out_.key_count > 0) {
    lcp = CommonPrefixLength(prev_, key);
    if (lcp == key.size() ||
        (lcp < prev_.size() && static_cast<uint8_t>(prev_[lcp]) > static_cast<uint8_t>(key[lcp]))) {
      throw Error(Error::Code::kInvalidArgument, "bulk load entries out of key order");
    }
  }
  if (out_.key_count == reserved_keys_) {
    reserved_keys_ = std::max<uint64_t>(2 * reserved_keys_, 1024);
    index_.Reserve(reserved_keys_);
  }
  unindexed_.push_back({KeyHash(stored), leaf});
  if (unindexed_.size() == kIndexBatch) index_.InsertMany(&unindexed_);
  out_.content_hash += LeafHash(stored, LeafValue(l));
  if (out_.key_count++ > 0) {
    while (!open_.empty() && open_.back().depth > lcp) {
      Attach(&open_.back(), pending_);
      const size_t parent = open_.size() > 1 && open_[open_.size() - 2].depth >= lcp
                                ? open_[open_.size() - 2].depth
                                : lcp;
      pending_ = CloseTop(parent, false);
    }
    if (open_.empty() || open_.back().depth < lcp) {
      open_.push_back({lcp, 0, children_.size()});
    }
    Attach(&open_.back(), pending_);
  }
  pending_ = leaf;
  prev_ = stored;
}

void BulkLoader::Attach(OpenNode* node, Ref r) {
  // Only the previous key itself can end exactly at a node: every other subtree below it holds
  // keys longer than its path.
  if (prev_.size() == node->depth) {
    node->end_leaf = r;
  } else {
    children_.emplace_back(static_cast<uint8_t>(prev_[node->depth]), r);
  }
}

Ref BulkLoader::CloseTop(size_t parent_depth, bool root) {
  const OpenNode node = open_.back();
  open_.pop_back();
  const size_t from = root ? 0 : parent_depth + 1;
  const uint32_t plen = static_cast<uint32_t>(node.depth - from);
  const uint32_t count = static_cast<uint32_t>(children_.size() - node.first);
  const uint8_t kind = SmallestKindFor(count);
  const uint64_t off = alloc_->Allocate(InnerBytes(kind, plen));
  WriteInner(base_ + off, kind, prev_.substr(from, plen), node.end_leaf, &children_[node.first],
             count);
  children_.resize(node.first);
  return off;
}

LoadedTree BulkLoader::Finish() {
  index_.InsertMany(&unindexed_);
  while (!open_.empty()) {
    Attach(&open_.back(), pending_);
    const bool root = open_.size() == 1;
    pending_ = CloseTop(root ? 0 : open_[open_.size() - 2].depth, root);
  }
  out_.root = pending_;
  out_.hash_dir = index_.dir();
  out_.hash_bits = index_.bits();
  return out_;
}

}  // namespace whycache::tree
