#include "popfs/pop3/errors.hpp"

#include <string>

#include "text_util.hpp"

namespace popfs::pop3 {

namespace {

bool says_in_use(std::string_view text) {
  return detail::icontains(text, "in use") || detail::icontains(text, "locked") ||
         detail::icontains(text, "lock ") || detail::icontains(text, "busy") ||
         detail::icontains(text, "already logged in") ||
         detail::icontains(text, "another session");
}

bool says_later(std::string_view text) {
  return detail::icontains(text, "try again") || detail::icontains(text, "try later") ||
         detail::icontains(text, "temporar") || detail::icontains(text, "later");
}

bool says_too_soon(std::string_view text) {
  return detail::icontains(text, "login delay") || detail::icontains(text, "too soon") ||
         detail::icontains(text, "too often") || detail::icontains(text, "too frequent") ||
         detail::icontains(text, "wait ");
}

Errc classify_without_code(CommandKind command, std::string_view text) {
  switch (command) {
    case CommandKind::greeting:
      if (says_in_use(text)) return Errc::in_use;
      if (says_too_soon(text)) return Errc::login_delay;
      return Errc::temporary;
    case CommandKind::user:
    case CommandKind::pass:
    case CommandKind::apop:
    case CommandKind::auth:
    case CommandKind::auth_response:
      if (says_in_use(text)) return Errc::in_use;
      if (says_too_soon(text)) return Errc::login_delay;
      if (says_later(text)) return Errc::temporary;
      return Errc::auth_failed;
    case CommandKind::retr:
    case CommandKind::top:
    case CommandKind::dele:
      return Errc::message_gone;
    case CommandKind::list:
    case CommandKind::uidl:
      return Errc::unsupported;  // the per-message forms are mapped by the caller below
    case CommandKind::capa:
      return Errc::unsupported;
    case CommandKind::stls:
      return Errc::stls_unavailable;
    default:
      return says_later(text) ? Errc::temporary : Errc::permanent;
  }
}

std::string advice(Errc code) {
  switch (code) {
    case Errc::in_use: return " (the mailbox is in use by another client; popfs will retry later)";
    case Errc::login_delay: return " (logged in too soon after the last session; popfs will wait)";
    case Errc::auth_failed: return " (check the user name and password or token)";
    case Errc::stls_unavailable: return " (the server does not offer STLS)";
    default: return "";
  }
}

}  // namespace

Error error_from_status(CommandKind command, const StatusLine& status,
                        std::optional<std::uint32_t> message) {
  Errc code = Errc::permanent;
  if (status.code) {
    switch (status.code->kind) {
      case ResponseCodeKind::in_use: code = Errc::in_use; break;
      case ResponseCodeKind::login_delay: code = Errc::login_delay; break;
      case ResponseCodeKind::sys_temp: code = Errc::temporary; break;
      case ResponseCodeKind::sys_perm: code = Errc::permanent; break;
      case ResponseCodeKind::auth: code = Errc::auth_failed; break;
      case ResponseCodeKind::other: code = classify_without_code(command, status.text); break;
    }
  } else {
    code = classify_without_code(command, status.text);
    if ((command == CommandKind::list || command == CommandKind::uidl) && message) {
      code = Errc::message_gone;
    }
  }
  std::string text = command == CommandKind::greeting
                         ? std::string("server refused the connection")
                         : std::string("server refused ") + std::string(command_name(command));
  if (message) text += " " + std::to_string(*message);
  text += ": ";
  if (status.code) text += "[" + detail::printable(status.code->text, 40) + "] ";
  text += status.text.empty() ? std::string("-ERR") : detail::printable(status.text);
  text += advice(code);
  return Error(code, std::move(text));
}

}  // namespace popfs::pop3
