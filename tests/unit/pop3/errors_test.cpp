#include "popfs/pop3/errors.hpp"

#include <gtest/gtest.h>

namespace popfs::pop3 {
namespace {

StatusLine err(std::string text, std::optional<std::string> code = {}) {
  auto parsed = parse_status_line(
      "-ERR " + (code ? "[" + *code + "] " : std::string()) + text);
  EXPECT_TRUE(parsed.ok());
  return parsed.ok() ? parsed.value() : StatusLine{};
}

TEST(ErrorFromStatus, ResponseCodesWin) {
  EXPECT_EQ(error_from_status(CommandKind::pass, err("Mailbox locked", "IN-USE")).code, Errc::in_use);
  EXPECT_EQ(error_from_status(CommandKind::pass, err("wait", "LOGIN-DELAY")).code, Errc::login_delay);
  EXPECT_EQ(error_from_status(CommandKind::retr, err("I/O error", "SYS/TEMP")).code, Errc::temporary);
  EXPECT_EQ(error_from_status(CommandKind::pass, err("account disabled", "SYS/PERM")).code, Errc::permanent);
  EXPECT_EQ(error_from_status(CommandKind::pass, err("Authentication failed.", "AUTH")).code, Errc::auth_failed);
  EXPECT_EQ(error_from_status(CommandKind::auth, err("bad token", "AUTH")).code, Errc::auth_failed);
  // A code on the greeting counts too.
  EXPECT_EQ(error_from_status(CommandKind::greeting, err("busy", "SYS/TEMP")).code, Errc::temporary);
}

TEST(ErrorFromStatus, LoginWithoutCode) {
  EXPECT_EQ(error_from_status(CommandKind::pass, err("invalid password")).code, Errc::auth_failed);
  EXPECT_EQ(error_from_status(CommandKind::apop, err("permission denied")).code, Errc::auth_failed);
  EXPECT_EQ(error_from_status(CommandKind::auth, err("")).code, Errc::auth_failed);
  EXPECT_EQ(error_from_status(CommandKind::user, err("no such user")).code, Errc::auth_failed);
}

TEST(ErrorFromStatus, HeuristicsForServersWithoutCodes) {
  EXPECT_EQ(error_from_status(CommandKind::pass, err("maildrop already locked")).code, Errc::in_use);
  EXPECT_EQ(error_from_status(CommandKind::pass, err("Mailbox is in use by another session")).code,
            Errc::in_use);
  EXPECT_EQ(error_from_status(CommandKind::greeting, err("mailbox busy")).code, Errc::in_use);
  EXPECT_EQ(error_from_status(CommandKind::pass, err("Logging in too soon, wait 5 minutes")).code,
            Errc::login_delay);
  EXPECT_EQ(error_from_status(CommandKind::pass, err("Server error, try again later")).code,
            Errc::temporary);
  EXPECT_EQ(error_from_status(CommandKind::greeting, err("go away")).code, Errc::temporary);
}

TEST(ErrorFromStatus, MessageCommands) {
  EXPECT_EQ(error_from_status(CommandKind::retr, err("no such message"), 3).code, Errc::message_gone);
  EXPECT_EQ(error_from_status(CommandKind::top, err("no such message"), 3).code, Errc::message_gone);
  EXPECT_EQ(error_from_status(CommandKind::dele, err("message 3 already deleted"), 3).code,
            Errc::message_gone);
  EXPECT_EQ(error_from_status(CommandKind::list, err("no such message"), 3).code, Errc::message_gone);
  EXPECT_EQ(error_from_status(CommandKind::uidl, err("no such message"), 3).code, Errc::message_gone);
  EXPECT_EQ(error_from_status(CommandKind::uidl, err("command not implemented")).code, Errc::unsupported);
  EXPECT_EQ(error_from_status(CommandKind::capa, err("unknown command")).code, Errc::unsupported);
  EXPECT_EQ(error_from_status(CommandKind::stls, err("not available")).code, Errc::stls_unavailable);
  EXPECT_EQ(error_from_status(CommandKind::quit, err("some deleted messages not removed")).code,
            Errc::permanent);
}

TEST(ErrorFromStatus, MessageIsReadableAndSafe) {
  auto e = error_from_status(CommandKind::retr, err("no such message"), 7);
  EXPECT_NE(e.message.find("RETR 7"), std::string::npos) << e.message;
  EXPECT_NE(e.message.find("no such message"), std::string::npos) << e.message;

  auto in_use = error_from_status(CommandKind::pass, err("locked", "IN-USE"));
  EXPECT_NE(in_use.message.find("[IN-USE]"), std::string::npos) << in_use.message;
  EXPECT_NE(in_use.message.find("another client"), std::string::npos) << in_use.message;
  EXPECT_EQ(in_use.message.find("PASS "), std::string::npos)
      << "the command's argument must never appear: " << in_use.message;

  StatusLine nasty;
  nasty.kind = StatusLine::Kind::err;
  nasty.text = std::string("evil\x1b[31m") + std::string(1000, 'x');
  auto bounded = error_from_status(CommandKind::noop, nasty);
  EXPECT_EQ(bounded.message.find('\x1b'), std::string::npos);
  EXPECT_LT(bounded.message.size(), 400u);
}

}  // namespace
}  // namespace popfs::pop3
