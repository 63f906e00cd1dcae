#include "popfs/fs/mail_date.hpp"

#include <array>
#include <cctype>
#include <charconv>
#include <string>
#include <vector>

namespace popfs::fs {
namespace {

char lower(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alpha(char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0; }

bool iequals_prefix(std::string_view token, std::string_view word, std::size_t min_len) {
  if (token.size() < min_len || token.size() > word.size()) return false;
  for (std::size_t i = 0; i < token.size(); ++i) {
    if (lower(token[i]) != word[i]) return false;
  }
  return true;
}

// Comments "(...)" may nest and hold quoted pairs; they count as white space.
std::string strip_comments(std::string_view in) {
  std::string out;
  int depth = 0;
  for (std::size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (depth > 0 && c == '\\' && i + 1 < in.size()) {
      ++i;
      continue;
    }
    if (c == '(') {
      ++depth;
      out += ' ';
    } else if (c == ')' && depth > 0) {
      --depth;
    } else if (depth == 0) {
      out += c;
    }
  }
  return out;
}

// Splits at white space and commas; "12 : 34" (obsolete FWS around colons) becomes "12:34".
std::vector<std::string> tokenize(std::string_view in) {
  std::string joined;
  for (std::size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == ',' || c == '\t' || c == '\r' || c == '\n') {
      joined += ' ';
    } else {
      joined += c;
    }
  }
  std::string compact;
  for (std::size_t i = 0; i < joined.size(); ++i) {
    if (joined[i] == ' ') {
      std::size_t j = i;
      while (j < joined.size() && joined[j] == ' ') ++j;
      const bool before_colon = j < joined.size() && joined[j] == ':';
      const bool after_colon = !compact.empty() && compact.back() == ':';
      if (!before_colon && !after_colon) compact += ' ';
      i = j - 1;
    } else {
      compact += joined[i];
    }
  }
  std::vector<std::string> tokens;
  std::string current;
  for (char c : compact) {
    if (c == ' ') {
      if (!current.empty()) tokens.push_back(std::move(current));
      current.clear();
    } else {
      current += c;
    }
  }
  if (!current.empty()) tokens.push_back(std::move(current));
  return tokens;
}

// Digits only: from_chars would take a sign, and "-1" is neither an hour nor a year.
std::optional<int> parse_int(std::string_view s) {
  if (s.empty() || s.size() > 9) return std::nullopt;
  if (s.find_first_not_of("0123456789") != std::string_view::npos) return std::nullopt;
  int value = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc{} || end != s.data() + s.size()) return std::nullopt;
  return value;
}

std::optional<int> month_number(std::string_view token) {
  static constexpr std::array<std::string_view, 12> kMonths = {
      "january", "february", "march",     "april",   "may",      "june",
      "july",    "august",   "september", "october", "november", "december"};
  for (std::size_t i = 0; i < kMonths.size(); ++i) {
    if (iequals_prefix(token, kMonths[i], 3)) return static_cast<int>(i) + 1;
  }
  return std::nullopt;
}

bool is_day_name(std::string_view token) {
  static constexpr std::array<std::string_view, 7> kDays = {
      "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"};
  for (auto day : kDays) {
    if (iequals_prefix(token, day, 3)) return true;
  }
  return false;
}

// Offset east of UTC in seconds.
std::optional<std::int64_t> zone_offset(std::string_view token) {
  if ((token[0] == '+' || token[0] == '-') && token.size() == 5) {
    for (std::size_t i = 1; i < 5; ++i) {
      if (!is_digit(token[i])) return std::nullopt;
    }
    const int hours = (token[1] - '0') * 10 + (token[2] - '0');
    const int minutes = (token[3] - '0') * 10 + (token[4] - '0');
    if (minutes > 59) return std::nullopt;
    const std::int64_t offset = hours * 3600 + minutes * 60;
    return token[0] == '-' ? -offset : offset;
  }
  std::string z;
  for (char c : token) z += lower(c);
  if (z == "ut" || z == "utc" || z == "gmt" || z == "z") return 0;
  if (z == "edt") return -4 * 3600;
  if (z == "est" || z == "cdt") return -5 * 3600;
  if (z == "cst" || z == "mdt") return -6 * 3600;
  if (z == "mst" || z == "pdt") return -7 * 3600;
  if (z == "pst") return -8 * 3600;
  // Military zones: RFC 5322 4.3 says their meaning was garbled and to treat them as -0000.
  if (z.size() == 1 && is_alpha(z[0]) && z[0] != 'j') return 0;
  return std::nullopt;
}

// Days since 1970-01-01 of a proleptic Gregorian date.
std::int64_t days_from_civil(std::int64_t y, int m, int d) {
  y -= m <= 2 ? 1 : 0;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const std::int64_t yoe = y - era * 400;
  const std::int64_t mp = (m + 9) % 12;
  const std::int64_t doy = (153 * mp + 2) / 5 + d - 1;
  const std::int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

int days_in_month(int year, int month) {
  static constexpr std::array<int, 12> kDays = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return month == 2 && leap ? 29 : kDays[static_cast<std::size_t>(month - 1)];
}

// The form nearly every message has, "Mon, 2 Jan 2006 15:04:05 -0700", read in place: a
// cold `ls -l` of a million messages parses a million dates. Anything else (comments,
// folding, obsolete forms, a value it finds invalid) goes to the general parser below, which
// gives the same answer for this form.
std::optional<std::int64_t> parse_canonical_date(std::string_view v) {
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t' || v.back() == '\r' || v.back() == '\n')) v.remove_suffix(1);
  if (v.size() >= 5 && is_alpha(v[0]) && v[3] == ',' && v[4] == ' ') {
    if (!is_day_name(v.substr(0, 3))) return std::nullopt;
    v.remove_prefix(5);
  }
  auto digits = [&](std::size_t at, std::size_t n) -> std::optional<int> {
    if (at + n > v.size()) return std::nullopt;
    int value = 0;
    for (std::size_t k = at; k < at + n; ++k) {
      if (!is_digit(v[k])) return std::nullopt;
      value = value * 10 + (v[k] - '0');
    }
    return value;
  };
  const std::size_t day_digits = v.size() > 1 && is_digit(v[1]) ? 2 : 1;
  // D[D] Mon YYYY HH:MM:SS +HHMM
  if (v.size() != day_digits + 24) return std::nullopt;
  const std::string_view rest = v.substr(day_digits);
  if (rest[0] != ' ' || rest[4] != ' ' || rest[9] != ' ' || rest[12] != ':' || rest[15] != ':' || rest[18] != ' ' ||
      (rest[19] != '+' && rest[19] != '-')) {
    return std::nullopt;
  }
  const auto day = digits(0, day_digits);
  const auto month = month_number(rest.substr(1, 3));
  const std::size_t base = day_digits;
  const auto year = digits(base + 5, 4);
  const auto hour = digits(base + 10, 2);
  const auto minute = digits(base + 13, 2);
  const auto second = digits(base + 16, 2);
  const auto zone = zone_offset(rest.substr(19, 5));
  if (!day || !month || !year || !hour || !minute || !second || !zone) return std::nullopt;
  if (*year < 1900 || *day < 1 || *day > days_in_month(*year, *month) || *hour > 23 || *minute > 59 || *second > 60) {
    return std::nullopt;
  }
  return days_from_civil(*year, *month, *day) * 86400 + *hour * 3600 + *minute * 60 + *second - *zone;
}

}  // namespace

std::optional<std::int64_t> parse_mail_date(std::string_view value) {
  if (auto fast = parse_canonical_date(value)) return fast;
  auto tokens = tokenize(strip_comments(value));
  std::size_t i = 0;
  if (i < tokens.size() && is_day_name(tokens[i])) ++i;
  if (i + 3 > tokens.size()) return std::nullopt;

  std::optional<int> day;
  std::optional<int> month;
  // RFC order is "day month year"; "month day year" is a common non-RFC variant.
  if (auto d = parse_int(tokens[i]); d && tokens[i].size() <= 2) {
    day = d;
    month = month_number(tokens[i + 1]);
  } else if (auto m = month_number(tokens[i]); m) {
    month = m;
    if (tokens[i + 1].size() <= 2) day = parse_int(tokens[i + 1]);
  }
  if (!day || !month) return std::nullopt;
  i += 2;

  const std::string& year_token = tokens[i++];
  auto year = parse_int(year_token);
  if (!year || year_token.size() < 2 || year_token.size() > 4) return std::nullopt;
  if (year_token.size() == 2) {
    *year += *year < 50 ? 2000 : 1900;
  } else if (year_token.size() == 3) {
    *year += 1900;
  }
  if (*year < 1900 || *day < 1 || *day > days_in_month(*year, *month)) return std::nullopt;

  if (i >= tokens.size()) return std::nullopt;
  const std::string& time_token = tokens[i++];
  int hms[3] = {0, 0, 0};
  std::size_t field = 0;
  std::size_t start = 0;
  for (std::size_t k = 0; k <= time_token.size(); ++k) {
    if (k == time_token.size() || time_token[k] == ':') {
      if (field >= 3) return std::nullopt;
      const std::string_view part(time_token.data() + start, k - start);
      if (part.empty() || part.size() > 2) return std::nullopt;
      auto v = parse_int(part);
      if (!v) return std::nullopt;
      hms[field++] = *v;
      start = k + 1;
    }
  }
  if (field < 2 || hms[0] > 23 || hms[1] > 59 || hms[2] > 60) return std::nullopt;

  std::int64_t offset = 0;  // a missing zone is read as -0000, "unknown": UTC
  if (i < tokens.size()) {
    auto zone = zone_offset(tokens[i]);
    if (!zone) return std::nullopt;
    offset = *zone;
  }
  const std::int64_t days = days_from_civil(*year, *month, *day);
  return days * 86400 + hms[0] * 3600 + hms[1] * 60 + hms[2] - offset;
}

}  // namespace popfs::fs
