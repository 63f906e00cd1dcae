#pragma once

// The words both generated mailboxes (the test corpus and the scale mailbox) are made of,
// so that a change to what "realistic mail" looks like is made once.

#include <array>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <string>

namespace popfs::test::vocabulary {

inline constexpr std::array<const char*, 8> kFirstNames{"Alice", "Bob",    "Chandra", "Dmitri",
                                                        "Eve",   "Fatima", "Gustavo", "Hiroko"};
inline constexpr std::array<const char*, 8> kLastNames{"Smith",  "Jones",  "Patel", "Ivanov",
                                                       "Martin", "Haddad", "Silva", "Tanaka"};
inline constexpr std::array<const char*, 6> kDomains{"example.com",      "example.net",
                                                     "example.org",      "mail.example.com",
                                                     "lists.example.org", "corp.example.net"};
inline constexpr std::array<const char*, 10> kTopics{
    "Quarterly report", "Meeting notes",     "Re: invoice",  "Build failure on main",
    "Lunch on Friday?", "Fwd: travel plans", "Patch review", "Your order",
    "Weekly digest",    "Re: Re: question about POP3"};
inline constexpr std::array<const char*, 24> kWords{
    "the",      "mailbox", "server",  "message", "report",   "attached", "please", "review",
    "before",   "tomorrow", "thanks", "regards", "draft",    "numbers",  "meeting", "client",
    "protocol", "download", "cache",  "listing", "header",   "body",     "deadline", "update"};
inline constexpr std::array<int, 6> kZoneMinutes{0, 60, -300, 330, -480, 120};

// "Thu, 3 Dec 2026 10:40:00 +0100": RFC 5322 section 3.3, in the sender's zone.
inline std::string rfc5322_date(std::int64_t utc_seconds, int zone_minutes) {
  static constexpr std::array<const char*, 7> kDays{"Sun", "Mon", "Tue", "Wed",
                                                    "Thu", "Fri", "Sat"};
  static constexpr std::array<const char*, 12> kMonths{"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const std::time_t local = static_cast<std::time_t>(utc_seconds + zone_minutes * 60);
  std::tm tm{};
  gmtime_r(&local, &tm);
  const int zone = zone_minutes < 0 ? -zone_minutes : zone_minutes;
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%s, %d %s %d %02d:%02d:%02d %c%02d%02d",
                kDays[static_cast<std::size_t>(tm.tm_wday)], tm.tm_mday,
                kMonths[static_cast<std::size_t>(tm.tm_mon)], tm.tm_year + 1900, tm.tm_hour,
                tm.tm_min, tm.tm_sec, zone_minutes < 0 ? '-' : '+', zone / 60, zone % 60);
  return buffer;
}

// The low `digits` hex digits of value, zero-padded.
inline std::string hex(std::uint64_t value, int digits) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(static_cast<std::size_t>(digits), '0');
  for (int i = digits - 1; i >= 0; --i, value >>= 4) {
    out[static_cast<std::size_t>(i)] = kHex[value & 15];
  }
  return out;
}

}  // namespace popfs::test::vocabulary
