// Cost of one parse_parts / decode_part (scripts/bench-mime): time, and the growth of peak
// resident memory, measured in a child process per case (VmHWM reset through
// /proc/self/clear_refs), so each figure is that operation's own. Cases: a 10 MiB message
// with a 7 MiB base64 attachment, and the hostile inputs the input guard bounds.

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "message_text.hpp"
#include "popfs/mime/part_tree.hpp"

namespace {

using popfs::mime::test::all_bytes;
using popfs::mime::test::base64_lines;
using popfs::mime::test::crlf;

long status_kib(const char* field) {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind(field, 0) == 0) return std::stol(line.substr(std::strlen(field)));
  }
  return -1;
}

void reset_peak() { std::ofstream("/proc/self/clear_refs") << "5"; }

struct Figures {
  double ms = 0;
  long peak_growth_kib = 0;
};

// Runs `work` `runs` times in a child; reports the median time and the peak RSS growth.
Figures measure(const std::function<void()>& work, int runs) {
  int pipe_fds[2];
  if (pipe(pipe_fds) != 0) return {};
  const pid_t child = fork();
  if (child == 0) {
    close(pipe_fds[0]);
    const long before = status_kib("VmRSS:");
    reset_peak();
    std::vector<double> times;
    for (int i = 0; i < runs; ++i) {
      const auto start = std::chrono::steady_clock::now();
      work();
      times.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
    }
    std::sort(times.begin(), times.end());
    Figures f{times[times.size() / 2], status_kib("VmHWM:") - before};
    if (write(pipe_fds[1], &f, sizeof f) != static_cast<ssize_t>(sizeof f)) _exit(1);
    _exit(0);
  }
  close(pipe_fds[1]);
  Figures f;
  if (read(pipe_fds[0], &f, sizeof f) != static_cast<ssize_t>(sizeof f)) f = {};
  close(pipe_fds[0]);
  waitpid(child, nullptr, 0);
  return f;
}

std::string ten_mib_message() {
  const std::string attachment = all_bytes(7 * 1024 * 1024);
  std::string text;
  while (text.size() < 400 * 1024) text += "A line of the message text, some words, more words.\n";
  return crlf("From: a@example.org\nSubject: big\nMIME-Version: 1.0\n"
              "Content-Type: multipart/mixed; boundary=\"=_b_=\"\n\n"
              "--=_b_=\nContent-Type: multipart/alternative; boundary=\"=_a_=\"\n\n"
              "--=_a_=\nContent-Type: text/plain; charset=utf-8\n"
              "Content-Transfer-Encoding: quoted-printable\n\n" + text +
              "--=_a_=\nContent-Type: text/html\n\n<p>" + text + "</p>\n--=_a_=--\n"
              "--=_b_=\nContent-Type: application/pdf; name=big.pdf\n"
              "Content-Transfer-Encoding: base64\n\n") +
         base64_lines(attachment) + crlf("--=_b_=--\n");
}

// Heap bytes a kept tree holds (entries, names, types, paths).
std::size_t tree_bytes(const std::vector<popfs::mime::PartEntry>& entries) {
  std::size_t total = entries.capacity() * sizeof(popfs::mime::PartEntry);
  for (const auto& e : entries) {
    if (e.name.capacity() > 15) total += e.name.capacity() + 1;
    if (e.content_type.capacity() > 15) total += e.content_type.capacity() + 1;
    total += e.path.indices.capacity() * sizeof(std::uint32_t);
    total += tree_bytes(e.children);
  }
  return total;
}

std::size_t count_entries(const std::vector<popfs::mime::PartEntry>& entries) {
  std::size_t n = entries.size();
  for (const auto& e : entries) n += count_entries(e.children);
  return n;
}

void row(const char* what, std::size_t bytes, const Figures& f, const char* target) {
  std::printf("%-44s %7.2f MiB  %9.1f ms  peak +%7.1f MiB   target: %s\n", what,
              static_cast<double>(bytes) / (1024.0 * 1024.0), f.ms,
              static_cast<double>(f.peak_growth_kib) / 1024.0, target);
}

}  // namespace

int main() {
  const std::string big = ten_mib_message();
  const auto tree = popfs::mime::parse_parts(big);
  const popfs::mime::PartEntry* pdf = nullptr;
  for (const auto& e : tree.entries) {
    if (e.name == "big.pdf") pdf = &e;
  }
  if (pdf == nullptr) {
    std::fprintf(stderr, "bench-mime: big.pdf not listed\n");
    return 1;
  }
  std::printf("10 MiB message: %zu bytes, big.pdf decodes to %llu bytes; the tree kept: %zu "
              "entries, %zu bytes\n\n",
              big.size(), static_cast<unsigned long long>(pdf->decoded_size),
              count_entries(tree.entries), tree_bytes(tree.entries));
  row("parse_parts (10 MiB, 7 MiB base64 inside)", big.size(),
      measure([&] { (void)popfs::mime::parse_parts(big); }, 9), "<= 100 ms, <= 4 MiB");
  row("decode_part big.pdf into a string", big.size(),
      measure([&] { (void)popfs::mime::decode_part(big, *pdf); }, 9), "<= 50 ms, 7 MiB + 1 MiB");
  row("decode_part big.pdf in pieces (discarded)", big.size(),
      measure([&] { popfs::mime::decode_part(big, *pdf, [](std::string_view) {}); }, 9),
      "<= 50 ms, <= 1 MiB");

  std::printf("\nhostile inputs (cut by the input guard or GMime's nesting limit)\n");
  std::string tiny = "Content-Type: multipart/mixed; boundary=b\r\n\r\n";
  for (int i = 0; i < 1000000; ++i) tiny += "--b\r\n\r\n";
  std::string headers;
  for (int i = 0; i < 2000000; ++i) headers += "a:b\r\n";
  headers += "\r\nbody\r\n";
  std::string nested;
  for (int i = 0; i < 10000; ++i) {
    nested += "Content-Type: multipart/mixed; boundary=b" + std::to_string(i) + "\r\n\r\n--b" +
              std::to_string(i) + "\r\n";
  }
  std::string dashes;
  for (int i = 0; i < 1000; ++i) {
    dashes += "Content-Type: multipart/mixed; boundary=b" + std::to_string(i) + "\r\n\r\n--b" +
              std::to_string(i) + "\r\n";
  }
  dashes += "Content-Type: text/plain\r\n\r\n";
  for (int i = 0; i < 2000000; ++i) dashes += "--x\r\n";
  const auto hostile = [](const char* what, const std::string& input) {
    row(what, input.size(), measure([&] { (void)popfs::mime::parse_parts(input); }, 3),
        "<= 1 s, <= 64 MiB");
  };
  hostile("a million 7-byte parts", tiny);
  const auto tiny_tree = popfs::mime::parse_parts(tiny);
  std::printf("%-44s (tree kept: %zu entries, %.1f KiB, %zu bytes per entry)\n", "",
              count_entries(tiny_tree.entries),
              static_cast<double>(tree_bytes(tiny_tree.entries)) / 1024.0,
              tree_bytes(tiny_tree.entries) / std::max<std::size_t>(1, count_entries(tiny_tree.entries)));
  hostile("two million 5-byte header lines", headers);
  hostile("10,000 nested multiparts", nested);
  hostile("1,000 nested, then 2 million \"--x\" lines", dashes);
  return 0;
}
