// popfs-demo-server: a private Dovecot POP3 server with a sample mailbox, for scripts/demo.
// Writes DIR/server.env (shell variables: port, CA file, user, password file, and the
// mailbox's message count and total RETR/LIST bytes) once the server accepts connections,
// then runs until SIGINT/SIGTERM and stops Dovecot.
// --benchmark serves the benchmark mailbox (2,000 messages, ~22 MB) for scripts/bench-fs
// (with --count N, N messages generated alike: bench-fs --messages).
// --large-count/--large-bytes set how many of the messages are large and their size (by
// default 1 of ~3 MiB); scripts/bench-memory serves one of ~64 MiB.
// --maildir serves an existing Maildir (kept, with Dovecot's index in it) instead of a generated
// one: scripts/bench-scale serves its cached scale mailboxes so. --config-line appends a line
// to dovecot.conf.

#include <signal.h>
#include <sys/stat.h>

#include <CLI/CLI.hpp>

#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "popfs_test/corpus.hpp"
#include "popfs_test/dovecot.hpp"
#include "popfs_test/temp_dir.hpp"

namespace {

// Messages in an existing Maildir and their CRLF bytes: from the W= in a file's name when it
// has one (scale mailboxes do), else from its content.
std::pair<std::size_t, std::size_t> maildir_totals(const std::filesystem::path& maildir) {
  std::size_t count = 0;
  std::size_t bytes = 0;
  for (const char* sub : {"cur", "new"}) {
    for (const auto& entry : std::filesystem::directory_iterator(maildir / sub)) {
      const std::string name = entry.path().filename().string();
      if (name.empty() || name[0] == '.') continue;
      ++count;
      const auto colon = name.find(':');
      const auto w = name.substr(0, colon).find(",W=");
      if (w != std::string::npos) {
        bytes += std::stoull(name.substr(w + 3));
      } else {
        bytes += popfs::test::to_crlf(popfs::test::read_file(entry.path())).size();
      }
    }
  }
  return {count, bytes};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Run a private Dovecot POP3 server with a sample mailbox"};
  std::string dir;
  popfs::test::CorpusOptions corpus;
  corpus.count = 60;
  corpus.large_count = 1;
  corpus.large_bytes = 3 << 20;
  app.add_option("--dir", dir, "Where to write server.env and the password file")->required();
  auto* count = app.add_option("--count", corpus.count, "Messages in the sample mailbox");
  app.add_option("--seed", corpus.seed, "Corpus seed");
  app.add_option("--large-count", corpus.large_count,
                 "How many of the messages are large (default 1)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--large-bytes", corpus.large_bytes,
                 "Approximate size in bytes of each large message (default 3 MiB)")
      ->check(CLI::PositiveNumber);
  bool benchmark = false;
  app.add_flag("--benchmark", benchmark,
               "Serve the benchmark mailbox (2,000 messages, ~22 MB; --count N: N messages of its "
               "kind, 3 of them large); overrides --seed")
      ->excludes("--large-count", "--large-bytes");
  std::string existing_maildir;
  app.add_option("--maildir", existing_maildir,
                 "Serve this existing Maildir (kept afterwards) instead of a generated mailbox")
      ->excludes("--benchmark", "--count", "--seed", "--large-count", "--large-bytes");
  std::vector<std::string> config_lines;
  app.add_option("--config-line", config_lines, "A line appended to dovecot.conf (repeatable)");
  CLI11_PARSE(app, argc, argv);
  if (benchmark) {
    const std::size_t wanted = corpus.count;
    corpus = popfs::test::CorpusOptions::benchmark();
    if (count->count() > 0) corpus.count = wanted;
  }

  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigprocmask(SIG_BLOCK, &signals, nullptr);

  try {
    popfs::test::Corpus messages;
    std::size_t wire_bytes = 0;
    std::size_t message_count = 0;
    if (existing_maildir.empty()) {
      messages = popfs::test::generate_corpus(corpus);
      // What a client must receive: RETR (and Dovecot's LIST) sizes are the CRLF sizes.
      for (const auto& message : messages.messages)
        wire_bytes += popfs::test::to_crlf(message.content).size();
      message_count = messages.messages.size();
    } else {
      std::tie(message_count, wire_bytes) = maildir_totals(existing_maildir);
    }
    popfs::test::Dovecot dovecot({.corpus = std::move(messages),
                                  .existing_maildir = existing_maildir,
                                  .extra_config = config_lines,
                                  .disable_plaintext_auth = true,
                                  .user = "alice",
                                  .password = "demo password",
                                  .start = true});
    std::filesystem::create_directories(dir);
    const std::string password_file = dir + "/password";
    {
      std::ofstream out(password_file, std::ios::trunc);
      out << dovecot.password() << '\n';
    }
    ::chmod(password_file.c_str(), 0600);
    const std::string env_file = dir + "/server.env";
    {
      std::ofstream out(env_file + ".tmp", std::ios::trunc);
      out << "POP3S_PORT=" << dovecot.pop3s_port() << '\n'
          << "POP3_PORT=" << dovecot.pop3_port() << '\n'
          << "CA_FILE=" << dovecot.ca_file() << '\n'
          << "MAIL_USER=" << dovecot.user() << '\n'
          << "PASSWORD_FILE=" << password_file << '\n'
          << "MAILDIR=" << dovecot.maildir().string() << '\n'
          << "DOVECOT_LOG=" << (dovecot.directory() / "dovecot.log").string() << '\n'
          << "MESSAGE_COUNT=" << message_count << '\n'
          << "WIRE_BYTES=" << wire_bytes << '\n';
    }
    std::filesystem::rename(env_file + ".tmp", env_file);  // readers never see half a file
    std::printf("popfs-demo-server: Dovecot on 127.0.0.1:%u (pop3s) with %zu messages\n",
                static_cast<unsigned>(dovecot.pop3s_port()), message_count);
    std::fflush(stdout);
    int received = 0;
    sigwait(&signals, &received);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "popfs-demo-server: %s\n", error.what());
    return 1;
  }
  return 0;
}
