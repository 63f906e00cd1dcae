// popfs-test-dovecot: runs the test suite's private Dovecot (tests/support) with a generated
// mailbox until SIGTERM/SIGINT, for demos and manual trials. Prints, once it is ready,
// one "key=value" per line: pop3_port, pop3s_port, ca_file, user, password_file, maildir.
#include <CLI/CLI.hpp>

#include <signal.h>

#include <cstdio>
#include <exception>

#include "popfs_test/corpus.hpp"
#include "popfs_test/dovecot.hpp"

int main(int argc, char** argv) {
  CLI::App app{"Run a private Dovecot POP3 server with a generated mailbox (popfs test fixture)"};
  popfs::test::CorpusOptions corpus;
  bool benchmark = false;
  app.add_flag("--benchmark", benchmark, "the benchmark mailbox: 2,000 messages, about 22 MB");
  app.add_option("--count", corpus.count, "number of messages");
  app.add_option("--seed", corpus.seed, "random seed");
  app.add_option("--large", corpus.large_count, "how many messages are several MB");
  CLI11_PARSE(app, argc, argv);
  if (benchmark) corpus = popfs::test::CorpusOptions::benchmark();

  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  try {
    popfs::test::DovecotOptions options;
    options.corpus = popfs::test::generate_corpus(corpus);
    popfs::test::Dovecot dovecot(std::move(options));
    std::printf("pop3_port=%u\npop3s_port=%u\nca_file=%s\nuser=%s\npassword_file=%s\nmaildir=%s\n",
                static_cast<unsigned>(dovecot.pop3_port()), static_cast<unsigned>(dovecot.pop3s_port()),
                dovecot.ca_file().c_str(), dovecot.user().c_str(), dovecot.password_file().c_str(),
                dovecot.maildir().c_str());
    std::fflush(stdout);
    int received = 0;
    sigwait(&stop_signals, &received);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "popfs-test-dovecot: %s\n", e.what());
    return 1;
  }
  return 0;
}
