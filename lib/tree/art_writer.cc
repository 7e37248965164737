#include "lib/tree/art_writer.h"

#include <algorithm>
#include <cstring>

namespace whycache::tree {

namespace {

size_t CommonPrefix(std::string_view a, std::string_view b, size_t from) {
  if (from >= a.size() || from >= b.size()) return 0;
  return CommonPrefixLength(a.substr(from), b.substr(from));
}

}  // namespace

void ArtWriter::Put(std::string_view key, std::string_view value) {
  const Ref leaf = NewLeaf(key, value);
  content_hash_ += LeafHash(key, value);
  dropped_ = 0;
  root_ = Insert(root_, key, 0, leaf);
  if (dropped_ != 0) {
    index_->Replace(key, dropped_, leaf);
  } else {
    index_->Insert(key, leaf);
  }
}

void ArtWriter::Erase(std::string_view key) {
  dropped_ = 0;
  root_ = Remove(root_, key, 0);
  if (dropped_ != 0) index_->Remove(key, dropped_);
}

Ref ArtWriter::NewLeaf(std::string_view key, std::string_view value) {
  const uint64_t off = alloc_->Allocate(LeafBytes(key.size(), value.size()));
  WriteLeaf(base_ + off, key, value);
  return off | 1;
}

void ArtWriter::FreeRef(Ref r) {
  if (IsLeaf(r)) {
    alloc_->Free(RefOffset(r), LeafBytes(space_.Leaf(r)));
  } else {
    const InnerHeader* n = space_.Inner(r);
    alloc_->Free(r, InnerBytes(n->kind, n->prefix_len));
  }
}

void ArtWriter::DropLeaf(Ref leaf) {
  dropped_ = leaf;
  const LeafHeader* l = space_.Leaf(leaf);
  content_hash_ -= LeafHash(LeafKey(l), LeafValue(l));
  FreeRef(leaf);
}

ArtWriter::NodeImage ArtWriter::Decode(Ref r) {
  const InnerHeader* n = space_.Inner(r);
  NodeImage img;
  img.prefix.assign(reinterpret_cast<const char*>(Prefix(n)), n->prefix_len);
  img.end_leaf = n->end_leaf;
  for (int pos = NextPos(n, kEndPos); pos != kNoPos; pos = NextPos(n, pos)) {
    img.children.emplace_back(ByteAt(n, pos), ChildAt(n, pos));
  }
  return img;
}

Ref ArtWriter::Encode(const NodeImage& img, uint8_t kind) {
  const uint64_t off = alloc_->Allocate(InnerBytes(kind, img.prefix.size()));
  WriteInner(base_ + off, kind, img.prefix, img.end_leaf, img.children.data(),
             static_cast<uint32_t>(img.children.size()));
  return off;
}

Ref ArtWriter::MakeMutable(Ref r) {
  if (alloc_->IsFresh(r)) return r;
  const InnerHeader* n = space_.Inner(r);
  const uint64_t bytes = InnerBytes(n->kind, n->prefix_len);
  const uint64_t off = alloc_->Allocate(bytes);
  std::memcpy(base_ + off, base_ + r, bytes);
  alloc_->Free(r, bytes);
  return off;
}

Ref ArtWriter::WithPrefix(Ref r, std::string prefix) {
  NodeImage img = Decode(r);
  img.prefix = std::move(prefix);
  const Ref out = Encode(img, space_.Inner(r)->kind);
  FreeRef(r);
  return out;
}

void ArtWriter::SetChild(InnerHeader* n, uint8_t c, Ref child) {
  uint8_t* b = MutableBody(n);
  Ref* ch = const_cast<Ref*>(Children(n));
  switch (n->kind) {
    case kNode4:
    case kNode8:
    case kNode16:
      for (uint32_t i = 0; i < n->count; ++i) {
        if (b[i] == c) ch[i] = child;
      }
      return;
    case kNode48:
      ch[b[c] - 1] = child;
      return;
    default:
      ch[c] = child;
  }
}

Ref ArtWriter::AddChild(Ref r, uint8_t c, Ref child) {
  const InnerHeader* n = space_.Inner(r);
  if (n->count < Capacity(n->kind)) {
    const Ref m = MakeMutable(r);
    InnerHeader* w = At(m);
    uint8_t* b = MutableBody(w);
    Ref* ch = const_cast<Ref*>(Children(w));
    switch (w->kind) {
      case kNode4:
      case kNode8:
      case kNode16: {
        uint32_t i = w->count;
        while (i > 0 && b[i - 1] > c) {
          b[i] = b[i - 1];
          ch[i] = ch[i - 1];
          --i;
        }
        b[i] = c;
        ch[i] = child;
        break;
      }
      case kNode48:
        // Slots stay dense: removals re-encode the node.
        ch[w->count] = child;
        b[c] = static_cast<uint8_t>(w->count + 1);
        break;
      default:
        ch[c] = child;
    }
    ++w->count;
    return m;
  }
  NodeImage img = Decode(r);
  const auto at =
      std::lower_bound(img.children.begin(), img.children.end(), std::make_pair(c, Ref{0}));
  img.children.insert(at, {c, child});
  const Ref out = Encode(img, SmallestKindFor(static_cast<uint32_t>(img.children.size())));
  FreeRef(r);
  return out;
}

void ArtWriter::Place(NodeImage* img, std::string_view key, size_t depth, Ref r) {
  if (key.size() == depth) {
    img->end_leaf = r;
  } else {
    img->children.emplace_back(static_cast<uint8_t>(key[depth]), r);
  }
}

Ref ArtWriter::Insert(Ref ref, std::string_view key, size_t depth, Ref leaf) {
  if (ref == 0) {
    ++key_count_;
    return leaf;
  }
  if (IsLeaf(ref)) {
    const std::string_view old_key = LeafKey(space_.Leaf(ref));
    if (old_key == key) {
      DropLeaf(ref);
      return leaf;
    }
    ++key_count_;
    const size_t p = CommonPrefix(old_key, key, depth);
    NodeImage img;
    img.prefix.assign(key.substr(depth, p));
    Place(&img, old_key, depth + p, ref);
    Place(&img, key, depth + p, leaf);
    std::sort(img.children.begin(), img.children.end());
    return Encode(img, kNode4);
  }
  const InnerHeader* n = space_.Inner(ref);
  const std::string_view prefix(reinterpret_cast<const char*>(Prefix(n)), n->prefix_len);
  const size_t p = CommonPrefix(prefix, key.substr(depth), 0);
  if (p < prefix.size()) {
    // The key leaves the compressed path inside it: split the path at p.
    ++key_count_;
    NodeImage top;
    top.prefix.assign(prefix.substr(0, p));
    const uint8_t down = static_cast<uint8_t>(prefix[p]);
    top.children.emplace_back(down, WithPrefix(ref, std::string(prefix.substr(p + 1))));
    Place(&top, key, depth + p, leaf);
    std::sort(top.children.begin(), top.children.end());
    return Encode(top, kNode4);
  }
  depth += prefix.size();
  if (depth == key.size()) {
    if (n->end_leaf != 0) {
      DropLeaf(n->end_leaf);
    } else {
      ++key_count_;
    }
    const Ref m = MakeMutable(ref);
    At(m)->end_leaf = leaf;
    return m;
  }
  const uint8_t c = static_cast<uint8_t>(key[depth]);
  const Ref child = FindChild(n, c);
  if (child == 0) {
    ++key_count_;
    return AddChild(ref, c, leaf);
  }
  const Ref updated = Insert(child, key, depth + 1, leaf);
  if (updated == child) return ref;
  const Ref m = MakeMutable(ref);
  SetChild(At(m), c, updated);
  return m;
}

Ref ArtWriter::Reshape(Ref old, NodeImage& img) {
  const uint8_t kind = space_.Inner(old)->kind;
  FreeRef(old);
  const size_t total = img.children.size() + (img.end_leaf != 0 ? 1 : 0);
  if (total == 0) return 0;
  if (total == 1) {
    // A node with one entry is folded into it, so paths stay compressed.
    if (img.end_leaf != 0) return img.end_leaf;
    const auto [c, child] = img.children[0];
    if (IsLeaf(child)) return child;
    NodeImage below = Decode(child);
    below.prefix = img.prefix + static_cast<char>(c) + below.prefix;
    const Ref out = Encode(below, space_.Inner(child)->kind);
    FreeRef(child);
    return out;
  }
  const uint32_t count = static_cast<uint32_t>(img.children.size());
  return Encode(img, count < MinCount(kind) ? SmallestKindFor(count) : kind);
}

Ref ArtWriter::Remove(Ref ref, std::string_view key, size_t depth) {
  if (ref == 0) return 0;
  if (IsLeaf(ref)) {
    if (LeafKey(space_.Leaf(ref)) != key) return ref;
    --key_count_;
    DropLeaf(ref);
    return 0;
  }
  const InnerHeader* n = space_.Inner(ref);
  const uint32_t plen = n->prefix_len;
  if (key.size() - depth < plen || std::memcmp(Prefix(n), key.data() + depth, plen) != 0) {
    return ref;
  }
  depth += plen;
  if (depth == key.size()) {
    if (n->end_leaf == 0 || LeafKey(space_.Leaf(n->end_leaf)) != key) return ref;
    --key_count_;
    NodeImage img = Decode(ref);
    DropLeaf(img.end_leaf);
    img.end_leaf = 0;
    return Reshape(ref, img);
  }
  const uint8_t c = static_cast<uint8_t>(key[depth]);
  const Ref child = FindChild(n, c);
  if (child == 0) return ref;
  const Ref updated = Remove(child, key, depth + 1);
  if (updated == child) return ref;
  return WithChild(ref, c, updated);
}

Ref ArtWriter::WithChild(Ref ref, uint8_t c, Ref updated) {
  if (updated != 0) {
    const Ref m = MakeMutable(ref);
    SetChild(At(m), c, updated);
    return m;
  }
  NodeImage img = Decode(ref);
  img.children.erase(std::find_if(img.children.begin(), img.children.end(),
                                  [c](const auto& e) { return e.first == c; }));
  return Reshape(ref, img);
}

uint64_t ArtWriter::ErasePrefix(std::string_view prefix) {
  const Ref subtree = SubtreeUnder(space_, root_, prefix);
  if (subtree == 0) return 0;
  const uint64_t before = key_count_;
  root_ = CutOff(root_, prefix, 0, subtree);
  DropSubtree(subtree);
  return before - key_count_;
}

Ref ArtWriter::CutOff(Ref ref, std::string_view prefix, size_t depth, Ref subtree) {
  if (ref == subtree) return 0;
  // SubtreeUnder found `subtree` along the prefix's bytes: each node on the way matches them.
  const InnerHeader* n = space_.Inner(ref);
  depth += n->prefix_len;
  const uint8_t c = static_cast<uint8_t>(prefix[depth]);
  return WithChild(ref, c, CutOff(FindChild(n, c), prefix, depth + 1, subtree));
}

void ArtWriter::DropSubtree(Ref ref) {
  // Inner nodes first, depth first with a stack of our own (a subtree is as deep as its longest
  // key); the leaves are gathered and then hashed with their memory fetched a few ahead, since
  // a subtree of millions of them lies all over the file.
  std::vector<Ref> leaves;
  std::vector<Ref> stack = {ref};
  while (!stack.empty()) {
    const Ref r = stack.back();
    stack.pop_back();
    if (IsLeaf(r)) {
      leaves.push_back(r);
      continue;
    }
    const InnerHeader* n = space_.Inner(r);
    if (n->end_leaf != 0) leaves.push_back(n->end_leaf);
    for (int pos = NextPos(n, kEndPos); pos != kNoPos; pos = NextPos(n, pos)) {
      stack.push_back(ChildAt(n, pos));
    }
    FreeRef(r);
  }
  constexpr size_t kAhead = 8;
  std::vector<HashIndexWriter::HashedLeaf> hashed;
  hashed.reserve(leaves.size());
  for (size_t i = 0; i < leaves.size(); ++i) {
    if (i + kAhead < leaves.size()) __builtin_prefetch(base_ + RefOffset(leaves[i + kAhead]));
    const LeafHeader* l = space_.Leaf(leaves[i]);
    const std::string_view key = LeafKey(l);
    content_hash_ -= LeafHash(key, LeafValue(l));
    hashed.push_back({KeyHash(key), leaves[i]});
    FreeRef(leaves[i]);
  }
  key_count_ -= leaves.size();
  index_->RemoveMany(&hashed);
}

}  // namespace whycache::tree
