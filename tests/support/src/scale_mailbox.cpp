#include "popfs_test/scale_mailbox.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <stdexcept>
#include <string_view>
#include <vector>

#include "mail_vocabulary.hpp"
#include "popfs_test/random.hpp"

namespace popfs::test {

namespace {

using namespace vocabulary;

// One stream per message: message k never depends on messages before it.
std::uint64_t message_seed(std::uint64_t seed, std::size_t index) {
  Random mix(seed * 0x100000001B3ULL ^ (static_cast<std::uint64_t>(index) + 1) * 0xD6E8FEB86659FD93ULL);
  return mix.next();
}

constexpr std::size_t kMinLine = 40;
constexpr std::size_t kMaxLine = 76;

// Body lines are slices of one fixed text, so a body's size is known from a few random draws
// without building it.
struct TextPool {
  std::string text;
  std::vector<std::uint32_t> word_starts;  // where a line may start (start + kMaxLine fits)
};

const TextPool& text_pool() {
  static const TextPool pool = [] {
    TextPool p;
    Random random(0x5CA1E);
    while (p.text.size() < 65536) {
      if (!p.text.empty()) p.text += ' ';
      p.word_starts.push_back(static_cast<std::uint32_t>(p.text.size()));
      p.text += random.pick(kWords);
    }
    while (!p.word_starts.empty() && p.word_starts.back() + kMaxLine > p.text.size()) p.word_starts.pop_back();
    return p;
  }();
  return pool;
}

std::string address(Random& random, bool gustavo, std::string& display_name) {
  std::string first = random.pick(kFirstNames);
  std::string last = random.pick(kLastNames);
  if (gustavo) {
    first = "Gustavo";
    last = "Smith";
  } else if (first == "Gustavo" && last == "Smith") {
    last = "Silva";  // exactly the chosen 1 in 64 are from Gustavo Smith
  }
  display_name = first + " " + last;
  std::string local = first + "." + last;
  for (auto& c : local) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
  return local + "@" + random.pick(kDomains);
}

struct Plan {
  std::string header;
  std::size_t body_bytes = 0;  // at least this many bytes of body lines
  bool dot_lines = false;
};

Plan plan_message(std::uint64_t seed, std::size_t index) {
  Random random(message_seed(seed, index));
  Plan plan;
  const bool gustavo = random.next() % 64 == 0;
  plan.dot_lines = random.next() % 16 == 0;
  plan.body_bytes = random.next() % 100 < 3 ? random.between(8 << 10, 40 << 10) : random.between(150, 2500);

  std::string from_name;
  std::string to_name;
  const std::string from = address(random, gustavo, from_name);
  const std::string to = address(random, false, to_name);
  const auto sent = static_cast<std::int64_t>(random.between(1104537600ULL, 1735689600ULL));
  const int zone = random.pick(kZoneMinutes);
  std::string& h = plan.header;
  h.reserve(700);
  h += "Return-Path: <" + from + ">\n";
  const std::size_t hops = random.between(1, 2);
  for (std::size_t hop = 0; hop < hops; ++hop) {
    const std::string relay = "mx" + std::to_string(hop + 1) + "." + random.pick(kDomains);
    h += "Received: from " + relay + " (" + relay + " [198.51.100." + std::to_string(random.between(1, 254)) + "])\n";
    h += "\tby mail.example.com (Postfix) with ESMTPS id " + hex(random.next(), 10) + "\n";
    h += "\tfor <" + to + ">; " + rfc5322_date(sent + static_cast<std::int64_t>(3 * (hops - hop)), zone) + "\n";
  }
  h += "Date: " + rfc5322_date(sent, zone) + "\n";
  h += "From: " + from_name + " <" + from + ">\n";
  h += "To: " + to_name + " <" + to + ">\n";
  h += "Subject: " + std::string(random.pick(kTopics)) + " #" + std::to_string(index) + "\n";
  h += "Message-ID: <scale." + std::to_string(index) + "." + hex(random.next(), 12) + "@" + random.pick(kDomains) + ">\n";
  h += "MIME-Version: 1.0\n";
  h += "Content-Type: text/plain; charset=us-ascii\n";
  h += "Content-Transfer-Encoding: 7bit\n";
  return plan;
}

// Emits the body's lines (without their '\n') to sink(std::string_view).
template <class Sink>
void compose_body(std::uint64_t seed, std::size_t index, const Plan& plan, Sink&& sink) {
  Random random(message_seed(seed, index) ^ 0xB0D7B0D7B0D7B0D7ULL);
  const TextPool& pool = text_pool();
  std::size_t written = 0;
  if (plan.dot_lines) {
    constexpr std::string_view kDotted[] = {".leading dot, stuffed on the wire", "..two dots",
                                            ". a dot and a space"};
    for (const auto line : kDotted) {
      sink(line);
      written += line.size() + 1;
    }
  }
  std::size_t paragraph = random.between(3, 8);
  while (written < plan.body_bytes) {
    const std::size_t start = pool.word_starts[random.next() % pool.word_starts.size()];
    std::size_t length = random.between(kMinLine, kMaxLine);
    while (pool.text[start + length - 1] == ' ') --length;  // no trailing blanks
    sink(std::string_view(pool.text).substr(start, length));
    written += length + 1;
    if (--paragraph == 0) {
      sink(std::string_view());
      written += 1;
      paragraph = random.between(3, 8);
    }
  }
}

}  // namespace

ScaleMessage scale_message(std::uint64_t seed, std::size_t index) {
  Plan plan = plan_message(seed, index);
  ScaleMessage message;
  message.body.reserve(plan.body_bytes + kMaxLine + 64);
  compose_body(seed, index, plan, [&](std::string_view line) {
    message.body.append(line);
    message.body.push_back('\n');
  });
  message.header = std::move(plan.header);
  return message;
}

std::string scale_message_header(std::uint64_t seed, std::size_t index) {
  return std::move(plan_message(seed, index).header);
}

ScaleSizes scale_message_sizes(std::uint64_t seed, std::size_t index) {
  const Plan plan = plan_message(seed, index);
  std::size_t header_lines = 0;
  for (const char c : plan.header) header_lines += c == '\n';
  ScaleSizes sizes;
  sizes.lf = plan.header.size() + 1;
  std::size_t lines = header_lines + 1;
  compose_body(seed, index, plan, [&](std::string_view line) {
    sizes.lf += line.size() + 1;
    ++lines;
  });
  sizes.crlf = sizes.lf + lines;
  return sizes;
}

std::string scale_maildir_file_name(std::size_t index, const ScaleSizes& sizes) {
  char buffer[128];
  std::snprintf(buffer, sizeof buffer, "1700000000.M%08zuP4242.popfs-scale,S=%zu,W=%zu:2,", index,
                sizes.lf, sizes.crlf);
  return buffer;
}

void write_scale_maildir(const std::filesystem::path& dir, std::uint64_t seed, std::size_t count) {
  for (const char* sub : {"", "cur", "new", "tmp"}) {
    std::filesystem::create_directories(dir / sub);
    ::chmod((dir / sub).c_str(), 0755);
  }
  const std::string cur = (dir / "cur").string() + "/";
  std::string content;
  for (std::size_t i = 0; i < count; ++i) {
    const ScaleMessage message = scale_message(seed, i);
    content.assign(message.header);
    content.push_back('\n');
    content.append(message.body);
    const std::size_t lines = static_cast<std::size_t>(std::count(content.begin(), content.end(), '\n'));
    const std::string path = cur + scale_maildir_file_name(i, {content.size(), content.size() + lines});
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) throw std::runtime_error("cannot create " + path + ": " + std::strerror(errno));
    const ssize_t written = ::write(fd, content.data(), content.size());
    const bool closed = ::close(fd) == 0;
    if (written != static_cast<ssize_t>(content.size()) || !closed)
      throw std::runtime_error("cannot write " + path + ": " + std::strerror(errno));
  }
}

}  // namespace popfs::test
