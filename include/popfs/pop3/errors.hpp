#pragma once
// Turning a server's "-ERR" into a typed popfs::Error with a message a user can act on.
//
//   [IN-USE]                  -> Errc::in_use       ("mailbox in use by another client")
//   [LOGIN-DELAY]             -> Errc::login_delay
//   [SYS/TEMP]                -> Errc::temporary
//   [SYS/PERM]                -> Errc::permanent
//   [AUTH]                    -> Errc::auth_failed
//   no code, PASS/APOP/AUTH   -> auth_failed, unless the text says the mailbox is locked or
//                                in use (-> in_use) or to wait/try later (-> login_delay or
//                                temporary): servers without RESP-CODES need heuristics
//   no code, USER             -> auth_failed (many servers refuse unknown users here)
//   no code, RETR/TOP/DELE/LIST n/UIDL n -> message_gone (the number is not in the snapshot)
//   no code, greeting         -> temporary, or in_use / login_delay by the same heuristics
//   no code, TOP              -> message_gone; callers that see TOP fail for a message that
//                                LIST shows may treat it as "TOP unsupported" themselves
//   no code, STLS             -> stls_unavailable
//   no code, CAPA/UIDL/LIST   -> unsupported
//   no code, QUIT             -> permanent (deletions were not committed)
//   anything else             -> permanent
// The message names the command (never its arguments: no secrets in logs) and quotes the
// server's text (bounded, control characters replaced).

#include <cstdint>
#include <optional>

#include "popfs/pop3/command.hpp"
#include "popfs/pop3/status.hpp"
#include "popfs/util/error.hpp"

namespace popfs::pop3 {

Error error_from_status(CommandKind command, const StatusLine& status,
                        std::optional<std::uint32_t> message = {});

}  // namespace popfs::pop3
