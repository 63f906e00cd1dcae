#include "popfs_test/independent_client.hpp"

#include <fstream>
#include <sstream>
#include <stdexcept>

#include "popfs_test/dovecot.hpp"
#include "popfs_test/process.hpp"
#include "popfs_test/temp_dir.hpp"

#ifndef POPFS_TEST_SUPPORT_DIR
#error "POPFS_TEST_SUPPORT_DIR must name tests/support (set by its CMakeLists.txt)"
#endif

namespace popfs::test {

namespace {

struct IndexEntry {
  std::size_t number = 0;
  std::string uidl;
  std::size_t size = 0;
};

// Runs poplib_dump.py; returns the parsed index.tsv. Files stay in out_dir.
std::vector<IndexEntry> run_dump(const Pop3sEndpoint& endpoint, const TempDir& out_dir,
                                 std::vector<std::string> mode_arguments) {
  std::vector<std::string> argv{"python3",
                                std::string(POPFS_TEST_SUPPORT_DIR) + "/poplib_dump.py",
                                "--host", endpoint.host,
                                "--port", std::to_string(endpoint.port),
                                "--ca-file", endpoint.ca_file,
                                "--user", endpoint.user,
                                "--out", out_dir.path().string()};
  argv.insert(argv.end(), mode_arguments.begin(), mode_arguments.end());
  const auto result = run_command(argv, std::chrono::minutes(5),
                                  {"POPFS_TEST_PASSWORD=" + endpoint.password});
  if (result.exit_code != 0) {
    throw std::runtime_error("independent poplib client failed (exit " +
                             std::to_string(result.exit_code) + "): " + result.output);
  }
  std::vector<IndexEntry> index;
  std::istringstream lines(read_file(out_dir / "index.tsv"));
  for (std::string line; std::getline(lines, line);) {
    std::istringstream fields(line);
    IndexEntry entry;
    std::getline(fields, line, '\t');
    entry.number = std::stoul(line);
    std::getline(fields, entry.uidl, '\t');
    std::getline(fields, line, '\t');
    entry.size = std::stoul(line);
    index.push_back(std::move(entry));
  }
  return index;
}

}  // namespace

Pop3sEndpoint pop3s_endpoint(const Dovecot& dovecot) {
  return Pop3sEndpoint{dovecot.host(), dovecot.pop3s_port(), dovecot.ca_file(), dovecot.user(),
                       dovecot.password()};
}

std::vector<IndependentMessage> fetch_all_independently(const Pop3sEndpoint& endpoint) {
  TempDir out("popfs-poplib-");
  std::vector<IndependentMessage> messages;
  for (auto& entry : run_dump(endpoint, out, {"--mode", "all"})) {
    IndependentMessage message;
    message.uidl = std::move(entry.uidl);
    message.list_size = entry.size;
    message.content = read_file(out / (std::to_string(entry.number) + ".msg"));
    messages.push_back(std::move(message));
  }
  return messages;
}

std::vector<IndependentMessage> fetch_all_independently(const Dovecot& dovecot) {
  return fetch_all_independently(pop3s_endpoint(dovecot));
}

std::vector<std::string> uidls_independently(const Pop3sEndpoint& endpoint) {
  TempDir out("popfs-poplib-");
  std::vector<std::string> uidls;
  for (auto& entry : run_dump(endpoint, out, {"--mode", "uidl"})) uidls.push_back(std::move(entry.uidl));
  return uidls;
}

std::string top_independently(const Pop3sEndpoint& endpoint, const std::string& uidl, std::size_t lines) {
  TempDir out("popfs-poplib-");
  run_dump(endpoint, out, {"--mode", "top", "--uidl", uidl, "--lines", std::to_string(lines)});
  return read_file(out / "top.msg");
}

std::string top_independently(const Dovecot& dovecot, const std::string& uidl, std::size_t lines) {
  return top_independently(pop3s_endpoint(dovecot), uidl, lines);
}

std::vector<std::string> top_all_independently(const Pop3sEndpoint& endpoint, std::size_t lines) {
  TempDir out("popfs-poplib-");
  std::vector<std::string> tops;
  for (const auto& entry : run_dump(endpoint, out, {"--mode", "topall", "--lines", std::to_string(lines)})) {
    tops.push_back(read_file(out / (std::to_string(entry.number) + ".top")));
  }
  return tops;
}

std::vector<std::string> top_all_independently(const Dovecot& dovecot, std::size_t lines) {
  return top_all_independently(pop3s_endpoint(dovecot), lines);
}

}  // namespace popfs::test
