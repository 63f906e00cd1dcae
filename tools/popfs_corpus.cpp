// popfs-corpus: writes a deterministic synthetic Maildir (cur/new/tmp) for demos and
// benchmarks. Same options and seed -> same bytes.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <exception>

#include "popfs_test/corpus.hpp"

int main(int argc, char** argv) {
  CLI::App app{"Write a synthetic Maildir for popfs demos and benchmarks"};
  std::string maildir;
  popfs::test::CorpusOptions options;
  bool benchmark = false;
  app.add_option("--maildir", maildir, "Maildir to create or fill (cur/new/tmp)")->required();
  app.add_flag("--benchmark", benchmark,
               "the benchmark mailbox: 2,000 messages, about 22 MB (other options override it)");
  auto* count = app.add_option("--count", options.count, "number of messages");
  auto* seed = app.add_option("--seed", options.seed, "random seed");
  auto* large = app.add_option("--large", options.large_count, "how many messages are several MB");
  auto* large_bytes = app.add_option("--large-bytes", options.large_bytes, "size of each large message");
  CLI11_PARSE(app, argc, argv);

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
