#include "popfs/app/url.hpp"

#include <gtest/gtest.h>

namespace popfs::app {
namespace {

using net::Security;

PopUrl parse_ok(std::string_view text) {
  auto url = parse_url(text);
  EXPECT_TRUE(url.ok()) << text << ": " << (url.ok() ? "" : url.error().message);
  return url.ok() ? url.value() : PopUrl{};
}

std::string parse_error(std::string_view text) {
  auto url = parse_url(text);
  EXPECT_FALSE(url.ok()) << text << " was accepted";
  if (url.ok()) return {};
  EXPECT_EQ(url.error().code, Errc::invalid_argument);
  return url.error().message;
}

TEST(Url, Pop3sDefaultsToPort995AndImplicitTls) {
  const PopUrl url = parse_ok("pop3s://alice@mail.example.com");
  EXPECT_EQ(url.user, "alice");
  EXPECT_EQ(url.host, "mail.example.com");
  EXPECT_EQ(url.port, 995);
  EXPECT_EQ(url.security, Security::implicit_tls);
}

TEST(Url, Pop3DefaultsToPort110AndRequiresStls) {
  const PopUrl url = parse_ok("pop3://bob@pop.example.org");
  EXPECT_EQ(url.port, 110);
  EXPECT_EQ(url.security, Security::stls);
}

TEST(Url, ExplicitPortAndTrailingSlash) {
  EXPECT_EQ(parse_ok("pop3s://alice@mail.example.com:1995").port, 1995);
  EXPECT_EQ(parse_ok("pop3://alice@127.0.0.1:65535/").port, 65535);
  EXPECT_EQ(parse_ok("pop3://alice@127.0.0.1:65535/").host, "127.0.0.1");
}

TEST(Url, SchemeIsCaseInsensitiveUserIsKept) {
  const PopUrl url = parse_ok("POP3S://Alice@Mail.Example.com");
  EXPECT_EQ(url.security, Security::implicit_tls);
  EXPECT_EQ(url.user, "Alice");
}

TEST(Url, Ipv6LiteralInBrackets) {
  PopUrl url = parse_ok("pop3s://alice@[::1]:9995");
  EXPECT_EQ(url.host, "::1");
  EXPECT_EQ(url.port, 9995);
  url = parse_ok("pop3://alice@[2001:db8::5]");
  EXPECT_EQ(url.host, "2001:db8::5");
  EXPECT_EQ(url.port, 110);
}

TEST(Url, PercentEncodedUser) {
  EXPECT_EQ(parse_ok("pop3s://alice%40example.com@mail.example.com").user, "alice@example.com");
  EXPECT_EQ(parse_ok("pop3s://a%2fb%20c@h").user, "a/b c");
}

TEST(Url, UnencodedAtInUserUsesLastAt) {
  const PopUrl url = parse_ok("pop3s://alice@example.com@mail.example.com");
  EXPECT_EQ(url.user, "alice@example.com");
  EXPECT_EQ(url.host, "mail.example.com");
}

TEST(Url, PasswordInUrlIsRefusedWithoutEchoingIt) {
  const std::string msg = parse_error("pop3s://u:hunter2@h");
  EXPECT_NE(msg.find("--password-file"), std::string::npos) << msg;
  EXPECT_NE(msg.find("--password-command"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("hunter2"), std::string::npos) << msg;
}

TEST(Url, OtherSchemesAreRefused) {
  EXPECT_NE(parse_error("imap://alice@h").find("unsupported scheme"), std::string::npos);
  EXPECT_NE(parse_error("https://alice@h").find("pop3s://"), std::string::npos);
  EXPECT_NE(parse_error("alice@h").find("pop3s://USER@HOST"), std::string::npos);
}

TEST(Url, MissingOrEmptyParts) {
  EXPECT_NE(parse_error("pop3s://mail.example.com").find("missing user"), std::string::npos);
  EXPECT_NE(parse_error("pop3s://@mail.example.com").find("empty user"), std::string::npos);
  EXPECT_NE(parse_error("pop3s://alice@").find("missing host"), std::string::npos);
  EXPECT_NE(parse_error("pop3s://alice@:995").find("missing host"), std::string::npos);
}

TEST(Url, BadPorts) {
  for (const char* text : {"pop3s://a@h:0", "pop3s://a@h:65536", "pop3s://a@h:abc", "pop3s://a@h:",
                           "pop3s://a@h:99x", "pop3s://a@[::1]:"}) {
    EXPECT_NE(parse_error(text).find("port"), std::string::npos) << text;
  }
}

TEST(Url, PathQueryAndFragmentAreRefused) {
  EXPECT_NE(parse_error("pop3s://a@h/INBOX").find("no path"), std::string::npos);
  parse_error("pop3s://a@h?x=1");
  parse_error("pop3s://a@h#frag");
}

TEST(Url, Ipv6WithoutBracketsOrMalformed) {
  EXPECT_NE(parse_error("pop3s://a@::1").find("brackets"), std::string::npos);
  EXPECT_NE(parse_error("pop3s://a@[::1").find("]"), std::string::npos);
  EXPECT_NE(parse_error("pop3s://a@[zzz]").find("IPv6"), std::string::npos);
  parse_error("pop3s://a@[::1]x");
}

TEST(Url, BadHostCharactersAndEscapes) {
  parse_error("pop3s://a@ho st");
  parse_error("pop3s://a@h!st");
  EXPECT_NE(parse_error("pop3s://a%4@h").find("percent"), std::string::npos);
  EXPECT_NE(parse_error("pop3s://a%zz@h").find("percent"), std::string::npos);
  EXPECT_NE(parse_error("pop3s://a;AUTH=*@h").find("AUTH"), std::string::npos);
}

TEST(Url, ControlCharactersInUserAreRefused) {
  // A CR/LF in the user would let a URL inject POP3 commands.
  EXPECT_NE(parse_error("pop3s://a%0D%0ADELE%201@h").find("control"), std::string::npos);
}

TEST(Url, FormatIsCanonical) {
  EXPECT_EQ(format_url(parse_ok("pop3s://alice%40example.com@[::1]")),
            "pop3s://alice%40example.com@[::1]:995");
  EXPECT_EQ(format_url(parse_ok("POP3://bob@Host:1100/")), "pop3://bob@Host:1100");
}

TEST(Url, LooksLikeUrl) {
  EXPECT_TRUE(looks_like_url("pop3s://a@h"));
  EXPECT_TRUE(looks_like_url("imap://a@h"));
  EXPECT_FALSE(looks_like_url("work"));
}

TEST(Url, ApplyToAccount) {
  net::Account account;
  apply_url(parse_ok("pop3://alice@[::1]:1110"), false, account);
  EXPECT_EQ(account.host, "::1");
  EXPECT_EQ(account.port, 1110);
  EXPECT_EQ(account.user, "alice");
  EXPECT_EQ(account.security, Security::stls);

  apply_url(parse_ok("pop3://alice@h"), true, account);
  EXPECT_EQ(account.security, Security::plaintext);
  // --insecure-plaintext never weakens a pop3s:// URL.
  apply_url(parse_ok("pop3s://alice@h"), true, account);
  EXPECT_EQ(account.security, Security::implicit_tls);
}

}  // namespace
}  // namespace popfs::app
