// libFuzzer target for parse_mail_date() (src/fs/mail_date.cpp), which turns the Date: field
// of a server's header stub into a file's modification time.
//
// Input: a Date: value. Properties:
// - a date lies between 1900-01-01 and 9999-12-31 (4-digit years at most) give or take the
//   largest zone offset;
// - it survives a round trip: formatted back as an RFC 5322 date in UTC, it parses to the
//   same second;
// - case, a leading comment, and folding (each space as CRLF + space) change nothing.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "fuzz_support.hpp"
#include "popfs/fs/mail_date.hpp"

namespace {

using popfs::fs::parse_mail_date;
using popfs::fuzz::check;

// Civil date from days since 1970-01-01 (proleptic Gregorian, the inverse of the usual
// days-from-civil formula; from the calendar's arithmetic, not from the code under test).
struct Civil {
  std::int64_t year;
  int month;
  int day;
};

Civil civil_from_days(std::int64_t z) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const std::int64_t doe = z - era * 146097;
  const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const std::int64_t mp = (5 * doy + 2) / 153;
  const int day = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  const int month = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  return {yoe + era * 400 + (month <= 2 ? 1 : 0), month, day};
}

std::string two_digits(std::int64_t v) {
  return (v < 10 ? "0" : "") + std::to_string(v);
}

std::string format_rfc5322(std::int64_t seconds) {
  static constexpr std::array<const char*, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  static constexpr std::array<const char*, 7> kDays = {"Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"};
  std::int64_t days = seconds / 86400;
  std::int64_t rest = seconds % 86400;
  if (rest < 0) {
    rest += 86400;
    --days;
  }
  const Civil civil = civil_from_days(days);
  const auto weekday = static_cast<std::size_t>(((days % 7) + 7) % 7);
  return std::string(kDays[weekday]) + ", " + std::to_string(civil.day) + " " +
         kMonths[static_cast<std::size_t>(civil.month - 1)] + " " + std::to_string(civil.year) + " " +
         two_digits(rest / 3600) + ":" + two_digits(rest / 60 % 60) + ":" + two_digits(rest % 60) + " +0000";
}

bool same(const std::optional<std::int64_t>& a, const std::optional<std::int64_t>& b) {
  return a.has_value() == b.has_value() && (!a || *a == *b);
}

std::string folded(std::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == ' ') out += "\r\n ";
    else out += c;
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view value = popfs::fuzz::as_text(data, size);
  const auto seconds = parse_mail_date(value);

  if (seconds) {
    constexpr std::int64_t kMaxOffset = 99 * 3600 + 59 * 60;
    constexpr std::int64_t k1900 = -2208988800;            // 1900-01-01T00:00:00Z
    constexpr std::int64_t k10000 = 253402300800;          // 10000-01-01T00:00:00Z
    check(*seconds >= k1900 - kMaxOffset && *seconds < k10000 + 60 + kMaxOffset,
          "a date lies between 1900 and 9999");
    const std::string again = format_rfc5322(*seconds);
    const Civil civil = civil_from_days((*seconds - ((*seconds % 86400) + 86400) % 86400) / 86400);
    if (civil.year >= 1900 && civil.year <= 9999) {
      check(same(parse_mail_date(again), seconds), "a date survives a round trip through its UTC form");
    }
  }

  check(same(parse_mail_date(popfs::fuzz::ascii_upper(value)), seconds) &&
            same(parse_mail_date(popfs::fuzz::ascii_lower(value)), seconds),
        "case does not matter");
  check(same(parse_mail_date("(sent by fuzz) " + std::string(value)), seconds), "a leading comment is white space");
  check(same(parse_mail_date(folded(value)), seconds), "folding is white space");
  return 0;
}
