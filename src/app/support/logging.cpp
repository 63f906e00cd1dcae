#include "popfs/app/logging.hpp"

#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <memory>

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/sinks/syslog_sink.h>
#include <spdlog/spdlog.h>

namespace popfs::app {
namespace {

constexpr std::string_view kMask = "****";

bool starts_with_word(std::string_view line, std::string_view word) {
  if (line.size() < word.size()) return false;
  for (std::size_t i = 0; i < word.size(); ++i) {
    if (std::toupper(static_cast<unsigned char>(line[i])) != word[i]) return false;
  }
  return line.size() == word.size() || line[word.size()] == ' ';
}

// Splits off a trailing CRLF/LF so it can be put back after masking.
std::string_view split_eol(std::string_view& line) {
  std::size_t end = line.size();
  while (end > 0 && (line[end - 1] == '\n' || line[end - 1] == '\r')) --end;
  const std::string_view eol = line.substr(end);
  line = line.substr(0, end);
  return eol;
}

// Keeps the first `keep_words` space-separated words and masks the rest, if there is a rest.
std::string keep_words(std::string_view line, std::size_t keep_words_count) {
  std::size_t pos = 0;
  for (std::size_t word = 0; word < keep_words_count; ++word) {
    const auto space = line.find(' ', pos);
    if (space == std::string_view::npos) return std::string(line);
    pos = space + 1;
  }
  if (pos >= line.size()) return std::string(line);
  return std::string(line.substr(0, pos)) + std::string(kMask);
}

// "<N>" in front of a line tells journald its syslog priority (under systemd, stderr of a
// foreground popfs goes to the journal).
class SyslogPriorityFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm& /*time*/,
              spdlog::memory_buf_t& dest) override {
    char digit = '6';
    switch (msg.level) {
      case spdlog::level::trace:
      case spdlog::level::debug: digit = '7'; break;
      case spdlog::level::info: digit = '6'; break;
      case spdlog::level::warn: digit = '4'; break;
      case spdlog::level::err: digit = '3'; break;
      default: digit = '2'; break;
    }
    const char prefix[] = {'<', digit, '>'};
    dest.append(prefix, prefix + sizeof prefix);
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<SyslogPriorityFlag>();
  }
};

// systemd sets $JOURNAL_STREAM to "DEVICE:INODE" of the stream it connected to stderr.
bool stderr_is_journal() {
  const char* stream = std::getenv("JOURNAL_STREAM");
  if (stream == nullptr) return false;
  unsigned long long device = 0;
  unsigned long long inode = 0;
  if (std::sscanf(stream, "%llu:%llu", &device, &inode) != 2) return false;
  struct stat st {};
  if (::fstat(STDERR_FILENO, &st) != 0) return false;
  return static_cast<unsigned long long>(st.st_dev) == device &&
         static_cast<unsigned long long>(st.st_ino) == inode;
}

}  // namespace

void setup_logging(const LogSetup& setup) {
  std::vector<spdlog::sink_ptr> sinks;
  if (setup.daemon) {
    auto sink = std::make_shared<spdlog::sinks::syslog_sink_mt>("popfs", LOG_PID, LOG_DAEMON, false);
    sink->set_pattern("%v");  // syslog adds time, ident and pid itself
    sinks.push_back(sink);
  } else {
    auto sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
    if (stderr_is_journal()) {
      auto formatter = std::make_unique<spdlog::pattern_formatter>();
      formatter->add_flag<SyslogPriorityFlag>('*').set_pattern("%*%v");
      sink->set_formatter(std::move(formatter));
    } else {
      sink->set_pattern("popfs: %^%l%$: %v");
    }
    sinks.push_back(sink);
  }
  for (const auto& extra : setup.extra_sinks) sinks.push_back(extra);
  auto logger = std::make_shared<spdlog::logger>("popfs", sinks.begin(), sinks.end());
  logger->set_level(setup.debug ? spdlog::level::debug : spdlog::level::info);
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(logger);
}

std::string mask_secrets(std::string_view client_line) {
  std::string_view line = client_line;
  const std::string_view eol = split_eol(line);
  std::string masked;
  if (starts_with_word(line, "PASS")) {
    masked = keep_words(line, 1);
  } else if (starts_with_word(line, "AUTH")) {
    masked = keep_words(line, 2);  // AUTH MECH <initial response>
  } else if (starts_with_word(line, "APOP")) {
    masked = keep_words(line, 2);  // APOP user <digest>
  } else {
    masked = std::string(line);
  }
  return masked + std::string(eol);
}

std::string ProtocolMasker::client_line(std::string_view line) {
  if (in_sasl_) {
    std::string_view body = line;
    const std::string_view eol = split_eol(body);
    return std::string(kMask) + std::string(eol);
  }
  std::string_view body = line;
  split_eol(body);
  // "AUTH MECH ..." starts an exchange; a bare "AUTH" only lists mechanisms.
  if (starts_with_word(body, "AUTH") && body.size() > 5) in_sasl_ = true;
  return mask_secrets(line);
}

void ProtocolMasker::server_line(std::string_view line) {
  if (line.rfind("+OK", 0) == 0 || line.rfind("-ERR", 0) == 0) in_sasl_ = false;
}

}  // namespace popfs::app
