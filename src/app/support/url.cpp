#include "popfs/app/url.hpp"

#include <arpa/inet.h>

#include <array>
#include <cctype>
#include <charconv>

namespace popfs::app {
namespace {

constexpr std::string_view kExample = "pop3s://USER@HOST[:PORT] or pop3://USER@HOST[:PORT]";

// The URL as it may appear in a message: a password written into it is replaced by ****.
std::string redacted(std::string_view text) {
  const auto start = text.find("://");
  if (start == std::string_view::npos) return std::string(text);
  const auto at = text.rfind('@');
  const auto colon = text.find(':', start + 3);
  if (at == std::string_view::npos || colon == std::string_view::npos || colon > at) {
    return std::string(text);
  }
  return std::string(text.substr(0, colon + 1)) + "****" + std::string(text.substr(at));
}

Error url_error(std::string_view text, std::string_view what) {
  return Error(Errc::invalid_argument,
               "invalid account URL '" + redacted(text) + "': " + std::string(what));
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Result<std::string> percent_decode(std::string_view text, std::string_view in) {
  std::string out;
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out += in[i];
      continue;
    }
    if (i + 2 >= in.size()) {
      return url_error(text, "incomplete percent escape in the user name");
    }
    const int hi = hex_value(in[i + 1]);
    const int lo = hex_value(in[i + 2]);
    if (hi < 0 || lo < 0) return url_error(text, "invalid percent escape in the user name");
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

bool is_host_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '.' || c == '_';
}

Result<std::uint16_t> parse_port(std::string_view text, std::string_view digits) {
  if (digits.empty()) return url_error(text, "empty port after ':'");
  unsigned value = 0;
  const auto* end = digits.data() + digits.size();
  const auto [ptr, ec] = std::from_chars(digits.data(), end, value);
  if (ec != std::errc() || ptr != end || value == 0 || value > 65535) {
    return url_error(text, "port '" + std::string(digits) + "' is not a number from 1 to 65535");
  }
  return static_cast<std::uint16_t>(value);
}

}  // namespace

bool looks_like_url(std::string_view text) { return text.find("://") != std::string_view::npos; }

Result<PopUrl> parse_url(std::string_view text) {
  PopUrl url;
  const auto scheme_end = text.find("://");
  if (scheme_end == std::string_view::npos) {
    return url_error(text, "expected " + std::string(kExample));
  }
  const std::string scheme = lower(text.substr(0, scheme_end));
  if (scheme == "pop3s") {
    url.security = net::Security::implicit_tls;
    url.port = 995;
  } else if (scheme == "pop3" || scheme == "pop") {
    url.security = net::Security::stls;
    url.port = 110;
  } else {
    return url_error(text, "unsupported scheme '" + scheme + "'; expected " + std::string(kExample));
  }

  std::string_view rest = text.substr(scheme_end + 3);
  const auto authority_end = rest.find_first_of("/?#");
  if (authority_end != std::string_view::npos) {
    const std::string_view tail = rest.substr(authority_end);
    if (tail != "/") {
      return url_error(text, "unexpected '" + std::string(tail) +
                                 "' after the host; a POP3 URL has no path, query or fragment");
    }
    rest = rest.substr(0, authority_end);
  }

  // The host cannot contain '@', so the last one separates it even from an unencoded
  // address-style user name.
  const auto at = rest.rfind('@');
  if (at == std::string_view::npos) {
    return url_error(text, "missing user name; expected " + std::string(kExample));
  }
  const std::string_view userinfo = rest.substr(0, at);
  const std::string_view hostport = rest.substr(at + 1);

  if (userinfo.find(':') != std::string_view::npos) {
    return url_error(text,
                     "a password must not be written in the URL (it would show in the process "
                     "list and shell history); use --password-file or --password-command");
  }
  if (userinfo.find(';') != std::string_view::npos) {
    return url_error(text, "';AUTH=' parameters are not supported; write only the user name");
  }
  auto user = percent_decode(text, userinfo);
  if (!user) return std::move(user).error();
  url.user = std::move(user).value();
  if (url.user.empty()) return url_error(text, "empty user name");
  for (const char c : url.user) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return url_error(text, "control character in the user name");
  }

  std::string_view port_text;
  bool has_port = false;
  if (!hostport.empty() && hostport.front() == '[') {
    const auto close = hostport.find(']');
    if (close == std::string_view::npos) return url_error(text, "missing ']' after the IPv6 address");
    url.host = std::string(hostport.substr(1, close - 1));
    std::array<unsigned char, 16> addr{};
    if (url.host.empty() || inet_pton(AF_INET6, url.host.c_str(), addr.data()) != 1) {
      return url_error(text, "'" + url.host + "' is not an IPv6 address");
    }
    const std::string_view after = hostport.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return url_error(text, "unexpected text after ']'");
      has_port = true;
      port_text = after.substr(1);
    }
  } else {
    const auto colon = hostport.find(':');
    if (colon != std::string_view::npos && hostport.find(':', colon + 1) != std::string_view::npos) {
      return url_error(text, "an IPv6 address must be written in brackets, e.g. pop3s://USER@[::1]");
    }
    url.host = std::string(hostport.substr(0, colon));
    if (colon != std::string_view::npos) {
      has_port = true;
      port_text = hostport.substr(colon + 1);
    }
    if (url.host.empty()) return url_error(text, "missing host name");
    if (url.host.size() > 253) return url_error(text, "host name longer than 253 characters");
    for (const char c : url.host) {
      if (!is_host_char(c)) {
        return url_error(text, "invalid character '" + std::string(1, c) + "' in the host name");
      }
    }
  }
  if (has_port) {
    auto port = parse_port(text, port_text);
    if (!port) return std::move(port).error();
    url.port = port.value();
  }
  return url;
}

std::string format_url(const PopUrl& url) {
  std::string out = url.security == net::Security::implicit_tls ? "pop3s://" : "pop3://";
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (const char c : url.user) {
    const auto u = static_cast<unsigned char>(c);
    const bool plain = std::isalnum(u) != 0 || c == '-' || c == '.' || c == '_' || c == '~';
    if (plain) {
      out += c;
    } else {
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 0x0f];
    }
  }
  out += '@';
  if (url.host.find(':') != std::string::npos) {
    out += '[' + url.host + ']';
  } else {
    out += url.host;
  }
  out += ':' + std::to_string(url.port);
  return out;
}

void apply_url(const PopUrl& url, bool insecure_plaintext, net::Account& account) {
  account.host = url.host;
  account.port = url.port;
  account.user = url.user;
  account.security = url.security;
  if (url.security == net::Security::stls && insecure_plaintext) {
    account.security = net::Security::plaintext;
  }
}

}  // namespace popfs::app
