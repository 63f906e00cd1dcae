#include "popfs/pop3/command.hpp"

#include <gtest/gtest.h>

#include "popfs/pop3/sasl.hpp"

namespace popfs::pop3 {
namespace {

std::string encoded(const Command& c) {
  auto r = encode(c);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  return r.ok() ? r.value() : std::string();
}

void expect_refused(const Command& c) {
  auto r = encode(c);
  ASSERT_FALSE(r.ok()) << c.redacted();
  EXPECT_EQ(r.error().code, Errc::invalid_argument);
}

TEST(Encode, EveryCommand) {
  EXPECT_EQ(encoded(Command::user("mrose")), "USER mrose\r\n");
  EXPECT_EQ(encoded(Command::pass("secret with spaces")), "PASS secret with spaces\r\n");
  EXPECT_EQ(encoded(Command::apop("mrose", "c4c9334bac560ecc979e58001b3e22fb")),
            "APOP mrose c4c9334bac560ecc979e58001b3e22fb\r\n");
  EXPECT_EQ(encoded(Command::auth("PLAIN")), "AUTH PLAIN\r\n");
  EXPECT_EQ(encoded(Command::auth("PLAIN", "dGVzdAB0ZXN0AHRlc3Q=")),
            "AUTH PLAIN dGVzdAB0ZXN0AHRlc3Q=\r\n");
  EXPECT_EQ(encoded(Command::auth("EXTERNAL", "=")), "AUTH EXTERNAL =\r\n");
  EXPECT_EQ(encoded(Command::auth_response("dGVzdA==")), "dGVzdA==\r\n");
  EXPECT_EQ(encoded(Command::auth_response("*")), "*\r\n");
  EXPECT_EQ(encoded(Command::auth_response("")), "\r\n");
  EXPECT_EQ(encoded(Command::capa()), "CAPA\r\n");
  EXPECT_EQ(encoded(Command::stls()), "STLS\r\n");
  EXPECT_EQ(encoded(Command::stat()), "STAT\r\n");
  EXPECT_EQ(encoded(Command::list()), "LIST\r\n");
  EXPECT_EQ(encoded(Command::list(2)), "LIST 2\r\n");
  EXPECT_EQ(encoded(Command::uidl()), "UIDL\r\n");
  EXPECT_EQ(encoded(Command::uidl(4294967295u)), "UIDL 4294967295\r\n");
  EXPECT_EQ(encoded(Command::top(1, 0)), "TOP 1 0\r\n");
  EXPECT_EQ(encoded(Command::top(3, 10)), "TOP 3 10\r\n");
  EXPECT_EQ(encoded(Command::retr(1)), "RETR 1\r\n");
  EXPECT_EQ(encoded(Command::dele(17)), "DELE 17\r\n");
  EXPECT_EQ(encoded(Command::rset()), "RSET\r\n");
  EXPECT_EQ(encoded(Command::noop()), "NOOP\r\n");
  EXPECT_EQ(encoded(Command::quit()), "QUIT\r\n");
}

TEST(Encode, RefusesInjection) {
  expect_refused(Command::user("bob\r\nDELE 1"));
  expect_refused(Command::user("bob\nDELE 1"));
  expect_refused(Command::user(std::string("bob\0x", 5)));
  expect_refused(Command::pass("pw\rQUIT"));
  expect_refused(Command::pass(std::string("pw\0", 3)));
  expect_refused(Command::apop("bob\n", "c4c9334bac560ecc979e58001b3e22fb"));
  expect_refused(Command::auth("PLAIN\r\nDELE 1"));
  expect_refused(Command::auth("PLAIN", "abc\r\nDELE 1"));
  expect_refused(Command::auth_response("abc\nDELE 1"));
}

TEST(Encode, RefusesMalformedArguments) {
  expect_refused(Command::user(""));
  expect_refused(Command::user("two words"));
  expect_refused(Command::pass(""));
  expect_refused(Command::apop("bob", "short"));
  expect_refused(Command::auth(""));
  expect_refused(Command::auth("PLAIN", "a b"));
  expect_refused(Command::retr(0));
  expect_refused(Command::dele(0));
  expect_refused(Command::list(0));
  Command no_number;
  no_number.kind = CommandKind::retr;
  expect_refused(no_number);
  Command greeting;
  greeting.kind = CommandKind::greeting;
  expect_refused(greeting);
}

TEST(Encode, RefusesOverlongLines) {
  // 255 octets including CRLF is the RFC 2449 limit for ordinary commands.
  EXPECT_EQ(encoded(Command::user(std::string(248, 'u'))).size(), 255u);
  expect_refused(Command::user(std::string(249, 'u')));
  expect_refused(Command::auth("XOAUTH2", std::string(300, 'A')));
  // Passwords and SASL lines may be longer, but not unbounded.
  EXPECT_TRUE(encode(Command::pass(std::string(1000, 'p'))).ok());
  EXPECT_TRUE(encode(Command::auth_response(std::string(4000, 'A'))).ok());
  expect_refused(Command::auth_response(std::string(max_credential_line_bytes, 'A')));
}

TEST(Encode, RedactedHidesSecrets) {
  EXPECT_EQ(Command::pass("hunter2").redacted(), "PASS ***");
  EXPECT_EQ(Command::auth("PLAIN", "dGVzdAB0ZXN0AHRlc3Q=").redacted(), "AUTH PLAIN ***");
  EXPECT_EQ(Command::auth_response("c2VjcmV0").redacted(), "***");
  EXPECT_EQ(Command::user("bob").redacted(), "USER bob");
  EXPECT_EQ(Command::top(2, 5).redacted(), "TOP 2 5");
  EXPECT_EQ(Command::apop("bob", "c4c9334bac560ecc979e58001b3e22fb").redacted(), "APOP bob ***");
}

TEST(Encode, ResponseShapes) {
  EXPECT_EQ(response_shape(Command::capa()), ResponseShape::multi_line);
  EXPECT_EQ(response_shape(Command::list()), ResponseShape::multi_line);
  EXPECT_EQ(response_shape(Command::list(1)), ResponseShape::status);
  EXPECT_EQ(response_shape(Command::uidl()), ResponseShape::multi_line);
  EXPECT_EQ(response_shape(Command::uidl(1)), ResponseShape::status);
  EXPECT_EQ(response_shape(Command::top(1, 0)), ResponseShape::multi_line);
  EXPECT_EQ(response_shape(Command::retr(1)), ResponseShape::multi_line);
  EXPECT_EQ(response_shape(Command::auth("PLAIN")), ResponseShape::status_or_continuation);
  EXPECT_EQ(response_shape(Command::auth_response("x")), ResponseShape::status_or_continuation);
  EXPECT_EQ(response_shape(Command::stat()), ResponseShape::status);
  EXPECT_EQ(response_shape(Command::dele(1)), ResponseShape::status);
  EXPECT_EQ(response_shape(Command::quit()), ResponseShape::status);
}

TEST(Base64, Rfc4648Vectors) {
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
  EXPECT_EQ(base64_encode("foob"), "Zm9vYg==");
  EXPECT_EQ(base64_encode("fooba"), "Zm9vYmE=");
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
  for (const std::string s : {"", "f", "fo", "foo", "foob", "fooba", "foobar"}) {
    auto back = base64_decode(base64_encode(s));
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, s);
  }
  auto decoded = base64_decode("VXNlcm5hbWU6");
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(*decoded, "Username:");
  auto binary = base64_decode("AP8=");
  ASSERT_TRUE(binary.ok());
  EXPECT_EQ(*binary, std::string("\x00\xff", 2));
}

TEST(Base64, RejectsInvalid) {
  for (const std::string bad : {"abc", "ab=c", "a===", "Zg=a", "Zm9v!A==", "Zm9v YmFy", "=AAA"}) {
    EXPECT_FALSE(base64_decode(bad).ok()) << bad;
  }
}

TEST(Sasl, Plain) {
  // RFC 5034 section 6 example: "test" as authzid, authcid and password.
  EXPECT_EQ(sasl_plain("test", "test", "test"), "dGVzdAB0ZXN0AHRlc3Q=");
  EXPECT_EQ(sasl_plain("tim", "tanstaaftanstaaf"), "AHRpbQB0YW5zdGFhZnRhbnN0YWFm");
}

TEST(Sasl, Xoauth2) {
  // Google's documented example.
  EXPECT_EQ(sasl_xoauth2("someuser@example.com", "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg"),
            "dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZGOWRmdDRxbVRjMk52YjNS"
            "bGNrQmhkSFJoZG1semRHRXVZMjl0Q2cBAQ==");
}

TEST(Sasl, OauthBearer) {
  // RFC 7628 section 4.1 example.
  EXPECT_EQ(sasl_oauthbearer("user@example.com", "server.example.com", 143,
                             "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg=="),
            "bixhPXVzZXJAZXhhbXBsZS5jb20sAWhvc3Q9c2VydmVyLmV4YW1wbGUuY29tAXBvcnQ9MTQzAWF1dGg9"
            "QmVhcmVyIHZGOWRmdDRxbVRjMk52YjNSbGNrQmhiSFJoZG1semRHRXVZMjl0Q2c9PQEB");
  // ',' and '=' in the user name are escaped (RFC 5801).
  EXPECT_EQ(sasl_oauthbearer("a=b,c", "h", 995, "t"),
            "bixhPWE9M0RiPTJDYywBaG9zdD1oAXBvcnQ9OTk1AWF1dGg9QmVhcmVyIHQBAQ==");
  EXPECT_EQ(sasl_oauthbearer_failure_ack(), "AQ==");
}

TEST(Apop, Md5Vectors) {
  // RFC 1321 appendix A.5.
  EXPECT_EQ(md5_hex(""), "d41d8cd98f00b204e9800998ecf8427e");
  EXPECT_EQ(md5_hex("a"), "0cc175b9c0f1b6a831c399e269772661");
  EXPECT_EQ(md5_hex("abc"), "900150983cd24fb0d6963f7d28e17f72");
  EXPECT_EQ(md5_hex("message digest"), "f96b697d7cb7938d525a2f31aaf161d0");
  EXPECT_EQ(md5_hex("12345678901234567890123456789012345678901234567890123456789012345678901234567890"),
            "57edf4a22be3c955ac49da2e2107b67a");
  // Padding edge cases around the 56- and 64-byte block boundaries.
  EXPECT_EQ(md5_hex(std::string(55, 'a')), "ef1772b6dff9a122358552954ad0df65");
  EXPECT_EQ(md5_hex(std::string(56, 'a')), "3b0c8ac703f828b04c6c197006d17218");
  EXPECT_EQ(md5_hex(std::string(64, 'a')), "014842d480b571495a4a0363793f7367");
}

TEST(Apop, Rfc1939Example) {
  auto stamp = apop_timestamp("POP3 server ready <1896.697170952@dbc.mtview.ca.us>");
  ASSERT_TRUE(stamp.has_value());
  EXPECT_EQ(*stamp, "<1896.697170952@dbc.mtview.ca.us>");
  EXPECT_EQ(apop_digest(*stamp, "tanstaaf"), "c4c9334bac560ecc979e58001b3e22fb");
  EXPECT_FALSE(apop_timestamp("Dovecot ready.").has_value());
  EXPECT_FALSE(apop_timestamp("a <b> c").has_value());
  EXPECT_FALSE(apop_timestamp("a <b@c").has_value());
}

}  // namespace
}  // namespace popfs::pop3
