#include "popfs/pop3/capabilities.hpp"

#include <limits>

#include "popfs/pop3/listing.hpp"
#include "text_util.hpp"

namespace popfs::pop3 {

bool Capabilities::has(std::string_view name) const noexcept { return find(name) != nullptr; }

const Capability* Capabilities::find(std::string_view name) const noexcept {
  for (const auto& entry : entries) {
    if (detail::iequals(entry.name, name)) return &entry;
  }
  return nullptr;
}

bool Capabilities::has_sasl(std::string_view mechanism) const noexcept {
  for (const auto& mech : sasl_mechanisms) {
    if (detail::iequals(mech, mechanism)) return true;
  }
  return false;
}

namespace {

Error violation(std::string_view what, std::string_view line) {
  return Error(Errc::protocol_violation,
               "CAPA: " + std::string(what) + ": \"" + detail::printable(line, 80) + "\"");
}

std::vector<std::string> split_words(std::string_view text) {
  std::vector<std::string> words;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && detail::is_blank(text[i])) ++i;
    std::size_t start = i;
    while (i < text.size() && !detail::is_blank(text[i])) ++i;
    if (i > start) words.emplace_back(text.substr(start, i - start));
  }
  return words;
}

}  // namespace

Result<Capabilities> parse_capabilities(std::string_view body) {
  Capabilities caps;
  for (auto raw : split_lines(body)) {
    if (raw.find('\0') != std::string_view::npos) return violation("NUL byte", raw);
    auto words = split_words(raw);
    if (words.empty()) continue;
    Capability cap;
    cap.name = detail::to_upper(words.front());
    cap.args.assign(words.begin() + 1, words.end());

    const std::string& name = cap.name;
    if (name == "TOP") caps.top = true;
    else if (name == "UIDL") caps.uidl = true;
    else if (name == "USER") caps.user = true;
    else if (name == "STLS") caps.stls = true;
    else if (name == "PIPELINING") caps.pipelining = true;
    else if (name == "RESP-CODES") caps.resp_codes = true;
    else if (name == "AUTH-RESP-CODE") caps.auth_resp_code = true;
    else if (name == "SASL") {
      for (const auto& mech : cap.args) {
        auto upper = detail::to_upper(mech);
        if (!caps.has_sasl(upper)) caps.sasl_mechanisms.push_back(std::move(upper));
      }
    } else if (name == "LOGIN-DELAY") {
      // "LOGIN-DELAY n" before login; after login some servers add "USER".
      if (cap.args.empty()) return violation("LOGIN-DELAY without a number", raw);
      auto seconds = detail::parse_decimal(cap.args.front(),
                                           std::numeric_limits<std::uint32_t>::max());
      if (!seconds) return violation("LOGIN-DELAY with a malformed number", raw);
      caps.login_delay_seconds = static_cast<std::uint32_t>(*seconds);
    } else if (name == "EXPIRE") {
      if (!cap.args.empty()) caps.expire = cap.args.front();
    } else if (name == "IMPLEMENTATION") {
      std::string text;
      for (const auto& word : cap.args) {
        if (!text.empty()) text += ' ';
        text += word;
      }
      caps.implementation = std::move(text);
    }
    caps.entries.push_back(std::move(cap));
  }
  return caps;
}

}  // namespace popfs::pop3
