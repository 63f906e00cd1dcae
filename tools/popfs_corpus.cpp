// popfs-corpus: writes a deterministic synthetic Maildir (cur/new/tmp) for demos and
// benchmarks. Same options and seed -> same bytes.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <exception>

#include "popfs_test/corpus.hpp"
#include "popfs_test/scale_mailbox.hpp"

int main(int argc, char** argv) {
  CLI::App app{"Write a synthetic Maildir for popfs demos and benchmarks"};
  std::string maildir;
  popfs::test::CorpusOptions options;
  bool benchmark = false;
  app.add_option("--maildir", maildir, "Maildir to create or fill (cur/new/tmp); required");
  app.add_flag("--benchmark", benchmark,
               "the benchmark mailbox: 2,000 messages, about 22 MB (other options override it)");
  auto* count = app.add_option("--count", options.count, "number of messages");
  auto* seed = app.add_option("--seed", options.seed, "random seed");
  auto* large = app.add_option("--large", options.large_count, "how many messages are several MB");
  auto* large_bytes = app.add_option("--large-bytes", options.large_bytes, "size of each large message");
  bool scale = false;
  app.add_flag("--scale", scale,
               "the scale mailbox (scale_mailbox.hpp): --count small messages, each computed alone, "
               "file names carrying S= and W= sizes; written one file at a time")
      ->excludes("--benchmark", "--large", "--large-bytes");
  bool print_scale_version = false;
  app.add_flag("--print-scale-version", print_scale_version,
               "print the scale mailbox's version (it changes whenever its bytes do) and exit");
  CLI11_PARSE(app, argc, argv);

  if (print_scale_version) {
    std::printf("%d\n", popfs::test::kScaleMailboxVersion);
    return 0;
  }
  if (maildir.empty()) {
    std::fprintf(stderr, "popfs-corpus: --maildir is required\n");
    return 2;
  }
  if (scale) {
    try {
      popfs::test::write_scale_maildir(maildir, options.seed, options.count);
      std::printf("popfs-corpus: wrote %zu scale messages (version %d, seed %llu) to %s\n", options.count,
                  popfs::test::kScaleMailboxVersion, static_cast<unsigned long long>(options.seed),
                  maildir.c_str());
    } catch (const std::exception& e) {
      std::fprintf(stderr, "popfs-corpus: %s\n", e.what());
      return 1;
    }
    return 0;
  }

  if (benchmark) {
    const auto preset = popfs::test::CorpusOptions::benchmark();
    if (count->count() == 0) options.count = preset.count;
    if (seed->count() == 0) options.seed = preset.seed;
    if (large->count() == 0) options.large_count = preset.large_count;
    if (large_bytes->count() == 0) options.large_bytes = preset.large_bytes;
    options.mean_body_bytes = preset.mean_body_bytes;
  }
  try {
    const auto corpus = popfs::test::generate_corpus(options);
    popfs::test::write_maildir(maildir, corpus);
    std::printf("popfs-corpus: wrote %zu messages (%zu bytes) to %s\n", corpus.messages.size(),
                corpus.total_bytes(), maildir.c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "popfs-corpus: %s\n", e.what());
    return 1;
  }
  return 0;
}
