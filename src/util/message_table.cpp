#include "popfs/util/message_table.hpp"

#include <stdexcept>

namespace popfs {

std::uint64_t MessageTable::hash(std::string_view uidl, std::uint32_t occurrence) noexcept {
  // FNV-1a over the UIDL, then the occurrence mixed in (so duplicates spread out).
  std::uint64_t h = 14695981039346656037ULL;
  for (char c : uidl) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ULL;
  }
  h ^= occurrence * 0x9E3779B97F4A7C15ULL;
  h ^= h >> 29;
  h *= 0xBF58476D1CE4E5B9ULL;
  h ^= h >> 32;
  return h;
}

void MessageTable::reserve(std::size_t rows, std::size_t uidl_bytes) {
  rows_.reserve(rows);
  arena_.reserve(uidl_bytes);
  if (const std::size_t capacity = index_capacity_for(rows); slots_.size() < capacity) rebuild_index(capacity);
}

void MessageTable::shrink_to_fit() {
  arena_.shrink_to_fit();
  rows_.shrink_to_fit();
  numbers_.shrink_to_fit();
}

void MessageTable::set_size(std::size_t row, std::uint64_t size) {
  const auto key = static_cast<std::uint32_t>(row);
  if (size < kBeyond32) {
    rows_[row].size = static_cast<std::uint32_t>(size);
    large_sizes_.erase(key);
  } else {
    rows_[row].size = kBeyond32;
    large_sizes_[key] = size;
  }
}

std::size_t MessageTable::append(std::string_view uidl, std::uint32_t number, std::uint64_t size) {
  if (arena_.size() + uidl.size() > UINT32_MAX || rows_.size() >= kMaxRows || uidl.size() > UINT16_MAX) {
    throw std::length_error("MessageTable: more than 4 GiB of UIDLs, 16 million messages or a UIDL of 64 KiB");
  }
  // One probe for the UIDL's first occurrence: it finds a repeat, or the free slot where
  // this row goes (unless the index must grow first).
  const std::uint64_t h = hash(uidl, 1);
  std::uint32_t occurrence = 1;
  std::size_t free_slot = kNoSlot;
  if (!slots_.empty()) {
    const auto probe = probe_for(uidl, 1, h);
    if (probe.row) {
      auto [repeat, fresh] = repeats_.try_emplace(std::string(uidl), 1);
      occurrence = ++repeat->second;
    } else {
      free_slot = probe.slot;
    }
  }
  const std::size_t row = rows_.size();
  const auto key = static_cast<std::uint32_t>(row);
  rows_.push_back(Row{static_cast<std::uint32_t>(arena_.size()), 0, static_cast<std::uint16_t>(uidl.size()),
                      occurrence < kBeyond16 ? static_cast<std::uint16_t>(occurrence) : kBeyond16});
  if (occurrence >= kBeyond16) large_occurrences_[key] = occurrence;
  set_size(row, size);
  arena_.append(uidl);
  if (numbers_dense_ && number != row + 1) {
    numbers_dense_ = false;
    numbers_.reserve(rows_.capacity());
    for (std::size_t earlier = 0; earlier < row; ++earlier) {
      numbers_.push_back(static_cast<std::uint32_t>(earlier + 1));
      number_rows_.emplace(static_cast<std::uint32_t>(earlier + 1), static_cast<std::uint32_t>(earlier));
    }
  }
  if (!numbers_dense_) {
    numbers_.push_back(number);
    number_rows_.emplace(number, key);
  }
  if ((rows_.size() + 1) * 2 > slots_.size()) {
    grow_index();
  } else if (free_slot != kNoSlot) {
    slots_[free_slot] = slot_value(row, h);
  } else {
    insert_into_index(row);
  }
  return row;
}

// A slot holds row + 1 in its low bits and 8 bits of the hash above them: most rows a probe
// passes are told apart by those bits, without reading the row or its UIDL.
std::uint32_t MessageTable::slot_value(std::size_t row, std::uint64_t h) noexcept {
  return static_cast<std::uint32_t>(row + 1) | static_cast<std::uint32_t>((h >> 56) << kRowBits);
}

MessageTable::Probe MessageTable::probe_for(std::string_view wanted, std::uint32_t occurrence,
                                            std::uint64_t h) const {
  const std::size_t mask = slots_.size() - 1;
  const auto tag = static_cast<std::uint32_t>(h >> 56);
  std::size_t slot = h & mask;
  for (; slots_[slot] != 0; slot = (slot + 1) & mask) {
    if ((slots_[slot] >> kRowBits) != tag) continue;
    const std::size_t row = (slots_[slot] & kRowMask) - 1;
    if (this->occurrence(row) == occurrence && uidl(row) == wanted) return Probe{slot, row};
  }
  return Probe{slot, std::nullopt};
}

void MessageTable::insert_into_index(std::size_t row) {
  const std::size_t mask = slots_.size() - 1;
  const std::uint64_t h = hash(uidl(row), occurrence(row));
  std::size_t slot = h & mask;
  while (slots_[slot] != 0) slot = (slot + 1) & mask;
  slots_[slot] = slot_value(row, h);
}

// At most half full (open addressing slows down past that), a power of two.
std::size_t MessageTable::index_capacity_for(std::size_t rows) noexcept {
  std::size_t capacity = 16;
  while (capacity < rows * 2 + 2) capacity *= 2;
  return capacity;
}

void MessageTable::grow_index() { rebuild_index(index_capacity_for(rows_.size())); }

void MessageTable::rebuild_index(std::size_t capacity) {
  slots_.assign(capacity, 0);
  for (std::size_t row = 0; row < rows_.size(); ++row) insert_into_index(row);
}

std::optional<std::size_t> MessageTable::find(std::string_view wanted, std::uint32_t occurrence) const {
  if (slots_.empty()) return std::nullopt;
  return probe_for(wanted, occurrence, hash(wanted, occurrence)).row;
}

std::optional<std::size_t> MessageTable::find_number(std::uint32_t number) const {
  if (numbers_dense_) {
    if (number == 0 || number > rows_.size()) return std::nullopt;
    return number - 1;
  }
  const auto it = number_rows_.find(number);
  if (it == number_rows_.end()) return std::nullopt;
  return it->second;
}

std::size_t MessageTable::memory_bytes() const noexcept {
  return arena_.capacity() + rows_.capacity() * sizeof(Row) + slots_.capacity() * sizeof(std::uint32_t) +
         numbers_.capacity() * sizeof(std::uint32_t) + number_rows_.size() * 32 + repeats_.size() * 64 +
         (large_sizes_.size() + large_occurrences_.size()) * 32;
}

}  // namespace popfs
