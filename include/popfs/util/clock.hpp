#pragma once
// Time as the core and the maildrop see it. Injected (never read from std::chrono directly
// in fs/ and mailbox/), so tests move it by hand instead of sleeping.

#include <chrono>
#include <cstdint>

namespace popfs {

class Clock {
 public:
  using duration = std::chrono::steady_clock::duration;
  using time_point = std::chrono::steady_clock::time_point;

  virtual ~Clock() = default;
  // Monotonic: deadlines, timers, backoffs.
  virtual time_point now() const = 0;
  // Seconds since the epoch: times a user sees (first_seen, last refresh).
  virtual std::int64_t wall_seconds() const = 0;
};

// The machine's clocks (steady_clock and system_clock). Thread-safe; lives for the program.
const Clock& system_clock();

}  // namespace popfs
