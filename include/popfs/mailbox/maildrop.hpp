#pragma once
// A maildrop keyed by UIDL: what the filesystem core needs from a POP3 server, and nothing
// of POP3 itself. Pop3Maildrop is the real one; tests use fakes.
//
// Threading rule for every implementation: completion callbacks are never invoked inline
// from inside the call that started the operation; they run later, on the maildrop's own
// thread, and must not block (post heavy work elsewhere). Callbacks for operations started
// in order complete in that order.

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <memory>

#include "popfs/util/message_id.hpp"
#include "popfs/util/message_table.hpp"
#include "popfs/util/result.hpp"

namespace popfs::mailbox {

// The server's listing in server order: UIDL, occurrence and LIST size of every message
// (sizes are provisional until a message has been fetched; numbers belong to the session
// that listed and mean nothing after it). Immutable and shared: the filesystem keeps it.
using Listing = std::shared_ptr<const MessageTable>;

struct ListOptions {
  // Log in even during the backoff after a refused login (one attempt: popfs refresh --now).
  bool try_login_now = false;
};

class Maildrop {
 public:
  using ListDone = std::function<void(Result<Listing>)>;
  using TextDone = std::function<void(Result<std::string>)>;
  using ChunkSink = std::function<void(std::string_view chunk)>;
  using Done = std::function<void(Result<void>)>;
  using DeletionsDone = std::function<void(Result<std::vector<MessageId>>)>;

  virtual ~Maildrop() = default;

  // A listing no older than this call: UIDL then LIST of a session that logged in after
  // the call began (a POP3 session sees a snapshot taken at login).
  virtual void list(ListDone done, ListOptions options) = 0;

  // TOP n lines: the header block, the blank line and `lines` body lines; dot-unstuffed,
  // CRLF line endings, without the terminating ".". Errc::unsupported if the server has no
  // (working) TOP; Errc::message_gone if the id is not in the server's snapshot.
  virtual void top(MessageId id, std::uint32_t lines, TextDone done) = 0;
  // The same for several messages: done(i, ...) for ids[i], in order. One hand-over to the
  // maildrop for all of them (a cold `ls -l` of a big mailbox asks for every header block).
  using TopEach = std::function<void(std::size_t index, Result<std::string>)>;
  virtual void top_many(std::vector<MessageId> ids, std::uint32_t lines, TopEach done) {
    auto shared = std::make_shared<TopEach>(std::move(done));
    for (std::size_t i = 0; i < ids.size(); ++i) {
      top(std::move(ids[i]), lines, [shared, i](Result<std::string> text) { (*shared)(i, std::move(text)); });
    }
  }

  // RETR, streamed: `sink` receives consecutive chunks of the message (dot-unstuffed,
  // CRLF, no terminator) as they arrive. done(ok) only when the whole message arrived;
  // after an error the bytes given to `sink` are incomplete and must be discarded. A RETR
  // is never sent again by the maildrop: the caller decides whether to ask again.
  virtual void retr(MessageId id, ChunkSink sink, Done done) = 0;

  // DELE every id that is in a fresh snapshot (matched by UIDL and occurrence, never by a
  // remembered message number), then QUIT. done receives the ids that are now gone from
  // the server: those whose deletion the QUIT committed and those that were already absent.
  // A lost connection before QUIT's +OK is an error: nothing was deleted.
  virtual void commit_deletions(std::vector<MessageId> ids, DeletionsDone done) = 0;

  // End any open session and fail queued work with Errc::cancelled. Work already sent to
  // the server is awaited briefly, then the session QUITs; every wait is bounded, so this
  // returns within seconds even if the server stalls. A commit_deletions() whose DELEs were
  // already sent may complete. Called on unmount; callbacks may still run until it returns.
  virtual void shutdown() = 0;
};

}  // namespace popfs::mailbox
