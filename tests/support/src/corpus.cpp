#include "popfs_test/corpus.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <ctime>
#include <stdexcept>

#include "popfs_test/temp_dir.hpp"

#include "mail_vocabulary.hpp"
#include "popfs_test/random.hpp"

namespace popfs::test {

namespace {

using namespace vocabulary;

constexpr std::array<const char*, 5> kEightBitWords{"Grüße", "naïve", "café", "日本語", "Ærøskøbing"};

std::string address(Random& random, std::string* display_name) {
  const std::string first = random.pick(kFirstNames);
  const std::string last = random.pick(kLastNames);
  if (display_name != nullptr) *display_name = first + " " + last;
  std::string local = first + "." + last;
  std::transform(local.begin(), local.end(), local.begin(),
                 [](char c) { return static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c); });
  return local + "@" + random.pick(kDomains);
}

std::string base64_lines(Random& random, std::size_t raw_bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string raw(raw_bytes, '\0');
  for (auto& c : raw) c = static_cast<char>(random.next() & 0xFF);
  std::string out;
  out.reserve(raw_bytes * 4 / 3 + raw_bytes / 57 + 8);
  std::size_t column = 0;
  for (std::size_t i = 0; i < raw.size(); i += 3) {
    const std::size_t n = std::min<std::size_t>(3, raw.size() - i);
    std::uint32_t chunk = static_cast<std::uint32_t>(static_cast<unsigned char>(raw[i])) << 16;
    if (n > 1) chunk |= static_cast<std::uint32_t>(static_cast<unsigned char>(raw[i + 1])) << 8;
    if (n > 2) chunk |= static_cast<std::uint32_t>(static_cast<unsigned char>(raw[i + 2]));
    out += kAlphabet[(chunk >> 18) & 63];
    out += kAlphabet[(chunk >> 12) & 63];
    out += n > 1 ? kAlphabet[(chunk >> 6) & 63] : '=';
    out += n > 2 ? kAlphabet[chunk & 63] : '=';
    column += 4;
    if (column >= 76) {
      out += '\n';
      column = 0;
    }
  }
  if (column != 0) out += '\n';
  return out;
}

struct Features {
  bool multipart = false;
  bool dot_lines = false;   // lines starting with '.'
  bool lone_dot = false;    // a line that is exactly "."
  bool long_line = false;   // a line over 2,048 bytes
  bool eight_bit = false;
};

std::string text_body(Random& random, std::size_t bytes, const Features& features) {
  std::string out;
  std::string line;
  std::size_t paragraph_lines = random.between(3, 8);
  while (out.size() < bytes) {
    const bool eight = features.eight_bit && random.between(0, 9) == 0;
    line += eight ? random.pick(kEightBitWords) : random.pick(kWords);
    if (line.size() >= random.between(55, 74)) {
      out += line + '\n';
      line.clear();
      if (--paragraph_lines == 0) {
        out += '\n';
        paragraph_lines = random.between(3, 8);
      }
    } else {
      line += ' ';
    }
  }
  if (!line.empty()) out += line + '\n';
  return out;
}

std::string special_lines(Random& random, const Features& features) {
  std::string out;
  if (features.dot_lines) {
    out += ".leading dot on a line of its own, dot-stuffed on the wire\n";
    out += "..two leading dots\n";
    out += ". a dot and a space\n";
  }
  if (features.lone_dot) out += "The next line is a single dot; it must not end the message:\n.\n";
  if (features.long_line) {
    out += "long-line: ";
    const std::size_t length = random.between(2100, 6000);
    for (std::size_t i = 0; i < length; ++i) out += static_cast<char>('a' + random.next() % 26);
    out += '\n';
  }
  if (features.eight_bit) {
    out += "UTF-8: Grüße aus Köln, naïve café, 日本語のテキスト\n";
    out += "Latin-1 byte, not UTF-8: caf\xe9\n";
  }
  return out;
}

std::string make_message(Random& random, std::uint64_t seed, std::size_t index,
                         const Features& features, std::size_t text_bytes,
                         std::size_t attachment_bytes) {
  std::string from_name;
  std::string to_name;
  const std::string from = address(random, &from_name);
  const std::string to = address(random, &to_name);
  // Dates between 2005 and 2025 in several zones.
  const auto sent = static_cast<std::int64_t>(random.between(1104537600ULL, 1735689600ULL));
  const int zone = random.pick(kZoneMinutes);

  std::string m;
  m += "Return-Path: <" + from + ">\n";
  const std::size_t hops = random.between(2, 4);
  std::int64_t hop_time = sent + static_cast<std::int64_t>(hops * 3);
  for (std::size_t hop = 0; hop < hops; ++hop, hop_time -= 3) {
    const std::string relay = "mx" + std::to_string(hop + 1) + "." + random.pick(kDomains);
    m += "Received: from " + relay + " (" + relay + " [198.51.100." +
         std::to_string(random.between(1, 254)) + "])\n";
    m += "\tby mail.example.com (Postfix) with ESMTPS id " + hex(random.next(), 10) + "\n";
    m += "\tfor <" + to + ">; " + rfc5322_date(hop_time, zone) + "\n";
  }
  m += "Date: " + rfc5322_date(sent, zone) + "\n";
  m += "From: " + from_name + " <" + from + ">\n";
  m += "To: " + to_name + " <" + to + ">\n";
  m += "Subject: " + std::string(random.pick(kTopics)) + " #" + std::to_string(index) + "\n";
  m += "Message-ID: <" + hex(seed, 4) + "." + std::to_string(index) + "." + hex(random.next(), 12) +
       "@" + random.pick(kDomains) + ">\n";
  m += "MIME-Version: 1.0\n";

  const std::string text = special_lines(random, features) + text_body(random, text_bytes, features);
  const char* encoding = features.eight_bit ? "8bit" : "7bit";
  if (!features.multipart) {
    m += "Content-Type: text/plain; charset=utf-8\n";
    m += std::string("Content-Transfer-Encoding: ") + encoding + "\n\n";
    m += text;
    return m;
  }
  const std::string boundary = "=_popfs_" + hex(random.next(), 16);
  const std::string file_name = "data-" + std::to_string(index) + ".bin";
  m += "Content-Type: multipart/mixed; boundary=\"" + boundary + "\"\n\n";
  m += "This is a multi-part message in MIME format.\n\n";
  m += "--" + boundary + "\n";
  m += "Content-Type: text/plain; charset=utf-8\n";
  m += std::string("Content-Transfer-Encoding: ") + encoding + "\n\n";
  m += text;
  m += "--" + boundary + "\n";
  m += "Content-Type: application/octet-stream; name=\"" + file_name + "\"\n";
  m += "Content-Disposition: attachment; filename=\"" + file_name + "\"\n";
  m += "Content-Transfer-Encoding: base64\n\n";
  m += base64_lines(random, attachment_bytes);
  m += "--" + boundary + "--\n";
  return m;
}

}  // namespace

CorpusOptions CorpusOptions::benchmark() {
  CorpusOptions options;
  options.count = 2000;
  options.seed = 2000;
  options.large_count = 3;
  options.large_bytes = 3 << 20;
  options.mean_body_bytes = 2000;
  return options;
}

std::size_t Corpus::total_bytes() const {
  std::size_t total = 0;
  for (const auto& message : messages) total += message.content.size();
  return total;
}

std::string maildir_base_name(std::size_t n) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "1700000000.M%08zuP4242.popfs-test", n);
  return buffer;
}

Corpus generate_corpus(const CorpusOptions& options) {
  Corpus corpus;
  corpus.messages.reserve(options.count);
  const std::size_t large = std::min(options.large_count, options.count);
  // Large messages go after the first 6 (which carry every feature) when there is room.
  std::vector<std::size_t> large_positions;
  for (std::size_t k = 0; k < large; ++k) {
    if (options.count >= 6 + large) {
      large_positions.push_back(6 + (options.count - 6) * (k + 1) / (large + 1));
    } else {
      large_positions.push_back(options.count - 1 - k);
    }
  }
  Random random(options.seed);
  for (std::size_t i = 0; i < options.count; ++i) {
    Features features;
    features.multipart = i % 4 == 1;
    features.dot_lines = i % 3 == 2;
    features.lone_dot = i % 6 == 5;
    features.long_line = i % 5 == 3;
    features.eight_bit = i % 2 == 0;
    const bool is_large =
        std::find(large_positions.begin(), large_positions.end(), i) != large_positions.end();
    const std::size_t mean = std::max<std::size_t>(options.mean_body_bytes, 64);
    std::size_t text_bytes = mean * random.between(30, 170) / 100;
    std::size_t attachment_bytes = mean * random.between(100, 700) / 100;
    if (is_large) {
      features.multipart = true;
      text_bytes = mean;
      // base64 grows by 4/3 plus a newline per 76 characters.
      attachment_bytes = options.large_bytes * 57 / 78;
    }
    CorpusMessage message;
    message.content = make_message(random, options.seed, i, features, text_bytes, attachment_bytes);
    message.maildir_name = maildir_base_name(i);
    corpus.messages.push_back(std::move(message));
  }
  return corpus;
}

void write_maildir(const std::filesystem::path& dir, const Corpus& corpus) {
  for (const char* sub : {"", "cur", "new", "tmp"}) {
    const auto path = dir / sub;
    std::filesystem::create_directories(path);
    ::chmod(path.c_str(), 0755);
  }
  for (const auto& message : corpus.messages) {
    write_file(dir / "cur" / (message.maildir_name + ":2,"), message.content);
  }
}

std::string to_crlf(std::string_view lf_text) {
  std::string out;
  out.reserve(lf_text.size() + lf_text.size() / 40);
  for (std::size_t i = 0; i < lf_text.size(); ++i) {
    if (lf_text[i] == '\n' && (i == 0 || lf_text[i - 1] != '\r')) out += '\r';
    out += lf_text[i];
  }
  return out;
}

}  // namespace popfs::test
