#pragma once
// SplitMix64: tiny, and its output is the same everywhere (std distributions are not), so
// generated mailboxes are the same bytes on every machine.

#include <array>
#include <cstddef>
#include <cstdint>

namespace popfs::test {

class Random {
 public:
  explicit Random(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  // Uniform-enough integer in [low, high].
  std::uint64_t between(std::uint64_t low, std::uint64_t high) { return low + next() % (high - low + 1); }
  template <class T, std::size_t N>
  const T& pick(const std::array<T, N>& items) { return items[next() % N]; }

 private:
  std::uint64_t state_;
};

}  // namespace popfs::test
