#include "namespace.hpp"

#include "dir_snapshot.hpp"

#include <algorithm>

#include "popfs/store/cache.hpp"
#include "popfs/util/uidl_name.hpp"

namespace popfs::fs {

struct Namespace::Version {
  mailbox::Listing table;
  std::vector<std::uint64_t> serials;  // per row
  std::vector<std::uint32_t> by_serial;  // rows ordered by serial; empty when serials ascend
};

namespace {

// Directory offsets: the directory's fixed entries (".", "..", subdirectories) first, then
// kFirstRowOffset + row for messages.
constexpr std::uint64_t kFirstRowOffset = 8;

constexpr std::string_view kFlagLetters = "DFPRST";  // Maildir flags, in ASCII order

// A Maildir name must not contain ':' (it starts the info): escaped as %3A, which the
// flat layout's parser reads back like any %XX.
std::string maildir_base(std::string_view uidl, std::uint32_t occurrence) {
  std::string name = message_file_name(uidl, occurrence);
  std::string out;
  out.reserve(name.size());
  for (char c : name) {
    if (c == ':') {
      out += "%3A";
    } else {
      out += c;
    }
  }
  return out;
}

std::optional<ParsedName> parse_maildir_base(std::string_view base) {
  std::string name;
  name.reserve(base.size());
  for (std::size_t i = 0; i < base.size(); ++i) {
    if (base[i] == '%' && i + 2 < base.size() && base[i + 1] == '3' && (base[i + 2] == 'A' || base[i + 2] == 'a')) {
      name += ':';
      i += 2;
    } else {
      name += base[i];
    }
  }
  // In the flat layout ':' is itself: parse that name, then check it maps back to `base`.
  auto parsed = parse_message_file_name(name);
  if (!parsed || maildir_base(parsed->uidl, parsed->occurrence) != base) return std::nullopt;
  return parsed;
}

std::string flags_text(std::uint8_t flags) {
  std::string out;
  for (std::size_t i = 0; i < kFlagLetters.size(); ++i) {
    if ((flags & (1u << i)) != 0) out += kFlagLetters[i];
  }
  return out;
}

// The flags of a Maildir info "2,FLAGS": only DFPRST, each once, in order (as the
// Maildir specification writes them).
std::optional<std::uint8_t> parse_flags(std::string_view text) {
  std::uint8_t flags = 0;
  std::size_t last = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto at = kFlagLetters.find(text[i]);
    if (at == std::string_view::npos || (i > 0 && at <= last)) return std::nullopt;
    flags = static_cast<std::uint8_t>(flags | (1u << at));
    last = at;
  }
  return flags;
}

std::uint32_t saturating_add(std::uint32_t value, std::uint64_t count) {
  const std::uint64_t sum = value + count;
  return sum > UINT32_MAX ? UINT32_MAX : static_cast<std::uint32_t>(sum);
}

std::uint32_t clamp_stub(std::uint64_t size) {
  return static_cast<std::uint32_t>(std::min<std::uint64_t>(size, UINT32_MAX - 1));
}

std::uint32_t saturating_sub(std::uint32_t value, std::uint64_t count) {
  return count >= value ? 0 : static_cast<std::uint32_t>(value - count);
}

}  // namespace

Namespace::Namespace(const FsOptions& options) : options_(options), current_(std::make_shared<Version>()) {}

// ---- lookups of rows -------------------------------------------------------------------

std::optional<std::size_t> Namespace::row_of_serial(const Version& v, std::uint64_t serial) const {
  if (v.by_serial.empty()) {
    const auto it = std::lower_bound(v.serials.begin(), v.serials.end(), serial);
    if (it == v.serials.end() || *it != serial) return std::nullopt;
    return static_cast<std::size_t>(it - v.serials.begin());
  }
  const auto it = std::lower_bound(v.by_serial.begin(), v.by_serial.end(), serial,
                                   [&](std::uint32_t row, std::uint64_t s) { return v.serials[row] < s; });
  if (it == v.by_serial.end() || v.serials[*it] != serial) return std::nullopt;
  return *it;
}

std::optional<std::size_t> Namespace::row_of_inode(std::uint64_t ino) const {
  const NodeKind k = kind_of_inode(ino);
  if (k != NodeKind::message && k != NodeKind::stub && k != NodeKind::part_folder && k != NodeKind::part) {
    return std::nullopt;
  }
  return row_of_serial(*current_, serial_of_inode(ino));
}

bool Namespace::visible(std::size_t row) const { return (states_[row].flags & (kHeld | kHidden)) == 0; }

bool Namespace::maildir() const { return options_.layout == Layout::maildir; }

std::uint8_t Namespace::mail_flags_of(const State& s) {
  return static_cast<std::uint8_t>((s.flags >> kFlagShift) & 0x3F);
}

std::uint8_t Namespace::stored_mail_flags(const State& s) {
  return static_cast<std::uint8_t>(mail_flags_of(s) | ((s.flags & kInCur) != 0 ? store::kMailFlagInCur : 0) |
                                   ((s.flags & kHasInfo) != 0 ? store::kMailFlagHasInfo : 0));
}

void Namespace::set_stored_mail_flags(State& s, std::uint8_t stored) {
  s.flags = static_cast<std::uint16_t>(s.flags & ~(kInCur | kHasInfo | (0x3F << kFlagShift)));
  s.flags = static_cast<std::uint16_t>(s.flags | (std::uint16_t{static_cast<std::uint8_t>(stored & 0x3F)} << kFlagShift));
  if ((stored & store::kMailFlagInCur) != 0) s.flags |= kInCur;
  if ((stored & store::kMailFlagHasInfo) != 0) s.flags |= kHasInfo;
}

std::uint64_t Namespace::message_dir(const State& s) const {
  if (!maildir()) return kRootInode;
  return (s.flags & kInCur) != 0 ? kCurInode : kNewInode;
}

std::string Namespace::message_name(const Version& v, std::size_t row, const State& s) const {
  if (!maildir()) return name_at(v, row);
  std::string name = maildir_base(v.table->uidl(row), v.table->occurrence(row));
  if ((s.flags & kHasInfo) != 0) name += ":2," + flags_text(mail_flags_of(s));
  return name;
}

std::vector<std::pair<std::uint64_t, std::string>> Namespace::names_of(const Version& v, std::size_t row,
                                                                     const State& s) const {
  std::string file = name_at(v, row);
  std::string folder = file.substr(0, file.size() - 4);  // without ".eml"
  return {{message_dir(s), message_name(v, row, s)}, {kHeadersInode, std::move(file)}, {kPartsInode, std::move(folder)}};
}

std::vector<std::pair<std::string, std::uint64_t>> Namespace::fixed_entries(NodeKind dir, bool listed) const {
  const std::uint64_t self = dir == NodeKind::root          ? kRootInode
                             : dir == NodeKind::headers_dir ? kHeadersInode
                             : dir == NodeKind::cur_dir     ? kCurInode
                             : dir == NodeKind::new_dir     ? kNewInode
                             : dir == NodeKind::tmp_dir     ? kTmpInode
                                                            : kPartsInode;
  std::vector<std::pair<std::string, std::uint64_t>> out{{".", self}, {"..", kRootInode}};
  if (dir != NodeKind::root) return out;
  if (maildir()) {
    out.emplace_back("cur", kCurInode);
    out.emplace_back("new", kNewInode);
    out.emplace_back("tmp", kTmpInode);
  }
  out.emplace_back(std::string(kHeadersDirName), kHeadersInode);
  // .parts is there but not listed: cp -r, tar and rsync of the mount copy each message
  // once, not again as decoded parts (doc/SEMANTICS.md, "MIME parts").
  if (!listed) out.emplace_back(std::string(kPartsDirName), kPartsInode);
  return out;
}

bool Namespace::has_dir(NodeKind k) const {
  switch (k) {
    case NodeKind::root:
    case NodeKind::headers_dir:
    case NodeKind::parts_dir: return true;
    case NodeKind::cur_dir:
    case NodeKind::new_dir:
    case NodeKind::tmp_dir: return maildir();
    default: return false;
  }
}

// The visible message named `name` in directory `dir` (message files, stubs or part folders).
std::optional<std::size_t> Namespace::row_in_dir(std::uint64_t dir, std::string_view name) const {
  if (!current_->table) return std::nullopt;
  std::optional<ParsedName> parsed;
  std::optional<std::uint8_t> flags;
  switch (kind_of_inode(dir)) {
    case NodeKind::root:
      if (maildir()) return std::nullopt;
      parsed = parse_message_file_name(name);
      break;
    case NodeKind::headers_dir: parsed = parse_message_file_name(name); break;
    case NodeKind::parts_dir: parsed = parse_message_file_name(std::string(name) + ".eml"); break;
    case NodeKind::new_dir:
    case NodeKind::cur_dir: {
      if (!maildir()) return std::nullopt;
      const auto info = name.rfind(":2,");
      parsed = parse_maildir_base(name.substr(0, info));
      if (info != std::string_view::npos) {
        flags = parse_flags(name.substr(info + 3));
        if (!flags) return std::nullopt;
      }
      break;
    }
    default: return std::nullopt;
  }
  if (!parsed) return std::nullopt;
  const auto row = current_->table->find(parsed->uidl, parsed->occurrence);
  if (!row || !visible(*row)) return std::nullopt;
  const State& s = states_[*row];
  const auto kind = kind_of_inode(dir);
  if (kind == NodeKind::new_dir || kind == NodeKind::cur_dir) {
    if (((s.flags & kInCur) != 0) != (kind == NodeKind::cur_dir)) return std::nullopt;
    if (((s.flags & kHasInfo) != 0) != flags.has_value()) return std::nullopt;
    if (flags && mail_flags_of(s) != *flags) return std::nullopt;
  }
  return row;
}

std::optional<std::uint64_t> Namespace::presented_body_size(std::size_t row) const {
  if (options_.lf) {
    const auto it = lf_body_sizes_.find(current_->serials[row]);
    return it == lf_body_sizes_.end() ? std::nullopt : std::optional<std::uint64_t>(it->second);
  }
  const auto size = states_[row].exact_size;
  return size == kUnknown ? std::nullopt : std::optional<std::uint64_t>(size);
}

std::optional<std::uint64_t> Namespace::presented_stub_size(std::size_t row) const {
  if (options_.lf) {
    const auto it = lf_stub_sizes_.find(current_->serials[row]);
    return it == lf_stub_sizes_.end() ? std::nullopt : std::optional<std::uint64_t>(it->second);
  }
  const auto size = states_[row].stub_size;
  return size == kUnknownStub ? std::nullopt : std::optional<std::uint64_t>(size);
}

// Both sizes are final: the body's once fetched; the stub's once fetched or cached (a
// cached stub's size can always be learnt locally), or never without TOP.
bool Namespace::exact(std::size_t row) const {
  const bool stub = presented_stub_size(row) || (states_[row].flags & kHasStub) != 0 || top_unsupported_;
  return stub && presented_body_size(row).has_value();
}

bool Namespace::stub_pending_at(std::size_t row) const {
  return !top_unsupported_ && (states_[row].flags & kHasStub) == 0 && states_[row].stub_size == kUnknownStub;
}

std::string Namespace::name_at(const Version& v, std::size_t row) const {
  return message_file_name(v.table->uidl(row), v.table->occurrence(row));
}

Message Namespace::message_at(std::size_t row) const {
  const State& s = states_[row];
  Message m;
  m.serial = current_->serials[row];
  m.id = current_->table->id(row);
  m.list_size = current_->table->size_of(row);
  if (s.exact_size != kUnknown) m.exact_size = s.exact_size;
  if (s.stub_size != kUnknownStub) m.stub_size = s.stub_size;
  m.has_body = (s.flags & kHasBody) != 0;
  m.has_stub = (s.flags & kHasStub) != 0;
  m.held = (s.flags & kHeld) != 0;
  return m;
}

// ---- attributes ------------------------------------------------------------------------

Attr Namespace::dir_attr(std::uint64_t ino) {
  std::lock_guard lock(mu_);
  return dir_attr_locked(ino);
}

Attr Namespace::dir_attr_locked(std::uint64_t ino) const {
  Attr a;
  a.ino = ino;
  a.is_dir = true;
  a.permissions = 0555;
  a.nlink = ino == kRootInode ? static_cast<std::uint32_t>(fixed_entries(NodeKind::root, true).size()) : 2;
  a.uid = options_.uid;
  a.gid = options_.gid;
  // The last change of the listing or of a message's place or flags (a change clock in
  // nanoseconds: clients that watch directory mtimes see every change, also two within a
  // second); 0 for an empty box.
  a.mtime = dir_mtime_ns_ / 1'000'000'000;
  a.mtime_nsec = static_cast<std::uint32_t>(dir_mtime_ns_ % 1'000'000'000);
  a.size_exact = true;
  a.attr_timeout = options_.attr_timeout;
  a.entry_timeout = options_.entry_timeout;
  return a;
}

Attr Namespace::file_attr(std::uint64_t ino, std::int64_t mtime, std::optional<std::uint64_t> exact_size,
                          std::uint64_t provisional, bool cacheable) const {
  Attr a;
  a.ino = ino;
  a.permissions = 0444;
  a.uid = options_.uid;
  a.gid = options_.gid;
  a.mtime = mtime;
  a.size_exact = exact_size.has_value();
  a.size = exact_size.value_or(provisional);
  // A provisional size is cached briefly, and only a LIST size (doc/SEMANTICS.md, st_size).
  a.attr_timeout = a.size_exact ? options_.attr_timeout : cacheable ? options_.provisional_attr_timeout : 0.0;
  a.entry_timeout = options_.entry_timeout;
  return a;
}

Attr Namespace::message_attr(std::size_t row) const {
  return file_attr(message_inode(current_->serials[row]), states_[row].mtime, presented_body_size(row),
                   current_->table->size_of(row), !options_.lf);
}

Attr Namespace::stub_attr(std::size_t row) const {
  return file_attr(stub_inode(current_->serials[row]), states_[row].mtime, presented_stub_size(row), 0, false);
}

// ---- the listing -----------------------------------------------------------------------

Namespace::Installed Namespace::install(mailbox::Listing table, std::vector<std::uint64_t> serials,
                                        const std::vector<InitialState>& initial,
                                        const std::function<bool(const MessageId&)>& deleted, std::int64_t now) {
  auto v = std::make_shared<Version>();
  v->table = table ? std::move(table) : std::make_shared<const MessageTable>();
  v->serials = std::move(serials);
  if (!std::is_sorted(v->serials.begin(), v->serials.end())) {
    v->by_serial.resize(v->serials.size());
    for (std::size_t row = 0; row < v->by_serial.size(); ++row) v->by_serial[row] = static_cast<std::uint32_t>(row);
    std::sort(v->by_serial.begin(), v->by_serial.end(),
              [&](std::uint32_t a, std::uint32_t b) { return v->serials[a] < v->serials[b]; });
  }

  std::lock_guard lock(mu_);
  Installed result;
  const std::shared_ptr<const Version> old = current_;
  std::vector<State> old_states = std::move(states_);
  states_.assign(v->serials.size(), State{});
  std::vector<bool> was_visible(v->serials.size(), false);
  current_ = v;
  bool appeared = false;
  for (std::size_t row = 0; row < v->serials.size(); ++row) {
    State& s = states_[row];
    if (const auto before = row_of_serial(*old, v->serials[row])) {
      s = old_states[*before];
      was_visible[row] = (s.flags & (kHeld | kHidden)) == 0;
      s.flags &= static_cast<std::uint16_t>(~(kHidden | kHeld));
      // The kernel may keep a provisional size a while: a new LIST size replaces it.
      if (s.exact_size == kUnknown && s.message_lookups > 0 && old->table->size_of(*before) != v->table->size_of(row)) {
        result.notes.inodes.push_back(message_inode(v->serials[row]));
      }
    } else {
      InitialState init;
      if (row < initial.size()) {
        init = initial[row];
      } else {
        init.mtime = now;
        init.first_seen = now;
      }
      if (init.exact_size) s.exact_size = *init.exact_size;
      if (init.stub_size) s.stub_size = clamp_stub(*init.stub_size);
      s.mtime = init.mtime;
      if (init.has_body) s.flags |= kHasBody;
      if (init.has_stub) s.flags |= kHasStub;
      set_stored_mail_flags(s, init.mail_flags);
      dir_mtime_ns_ = std::max(dir_mtime_ns_, init.first_seen * 1'000'000'000);
    }
    if (deleted && deleted(v->table->id(row))) s.flags |= kHidden;
  }
  // Hold new messages whose sizes are not exact while the kernel opens files unasked.
  visible_ = held_ = inexact_ = 0;
  for (std::size_t row = 0; row < states_.size(); ++row) {
    State& s = states_[row];
    if ((s.flags & kHidden) != 0) {
      s.message_lookups = s.stub_lookups = 0;
      continue;
    }
    if (opens_skipped_ && !was_visible[row] && !exact(row)) {
      s.flags |= kHeld;
      ++held_;
      result.held.push_back(v->serials[row]);
      continue;
    }
    ++visible_;
    if (!exact(row)) ++inexact_;
    if (!was_visible[row]) appeared = true;
  }
  // What the kernel may still hold of messages that are gone (or hidden now).
  for (std::size_t before = 0; before < old->serials.size(); ++before) {
    const State& s = old_states[before];
    if ((s.flags & (kHeld | kHidden)) != 0) continue;  // never shown, or already handled
    const auto now_row = row_of_serial(*v, old->serials[before]);
    if (now_row && visible(*now_row)) continue;
    for (auto& entry : names_of(*old, before, s)) result.notes.entries.push_back(std::move(entry));
    const auto serial = old->serials[before];
    if (s.message_lookups > 0) {
      orphans_[message_inode(serial)] =
          Orphan{file_attr(message_inode(serial), s.mtime,
                           s.exact_size == kUnknown ? std::nullopt : std::optional<std::uint64_t>(s.exact_size),
                           old->table->size_of(before), false),
                 s.message_lookups};
    }
    if (s.stub_lookups > 0) {
      orphans_[stub_inode(serial)] =
          Orphan{file_attr(stub_inode(serial), s.mtime,
                           s.stub_size == kUnknownStub ? std::nullopt : std::optional<std::uint64_t>(s.stub_size), 0,
                           false),
                 s.stub_lookups};
    }
    lf_body_sizes_.erase(serial);
    lf_stub_sizes_.erase(serial);
  }
  for (const auto serial : v->serials) {  // listed again: no longer an orphan
    orphans_.erase(message_inode(serial));
    orphans_.erase(stub_inode(serial));
  }
  if (appeared || !result.notes.entries.empty()) {
    for (auto dir : {kRootInode, kHeadersInode, kPartsInode, kCurInode, kNewInode}) result.notes.inodes.push_back(dir);
    // A change the server made (not the cached listing loaded at start): clients that watch
    // directory mtimes (NeoMutt, notmuch) look again.
    if (initial.empty()) note_change_locked(now);
  }
  result.visible = visible_;
  return result;
}

// ---- the kernel's view -----------------------------------------------------------------

Result<Attr> Namespace::lookup(std::uint64_t parent, std::string_view name, bool count) {
  const NodeKind parent_kind = kind_of_inode(parent);
  if (has_dir(parent_kind)) {
    for (const auto& [fixed, ino] : fixed_entries(parent_kind, false)) {
      if (fixed == name && fixed != "." && fixed != "..") return dir_attr(ino);  // fixed inodes: no count
    }
  }
  std::lock_guard lock(mu_);
  if (has_dir(parent_kind)) {
    const auto row = row_in_dir(parent, name);
    if (!row) return Error(Errc::not_found, "no such message");
    State& s = states_[*row];
    if (parent_kind == NodeKind::headers_dir) {
      if (count) s.stub_lookups = saturating_add(s.stub_lookups, 1);
      return stub_attr(*row);
    }
    if (parent_kind == NodeKind::parts_dir) return part_folder_attr(*row);
    if (count) s.message_lookups = saturating_add(s.message_lookups, 1);
    return message_attr(*row);
  }
  const auto row = row_of_inode(parent);
  if ((row && visible(*row)) || orphans_.count(parent) != 0) {
    return Error(Errc::not_a_directory, "a message file is not a directory");
  }
  return Error(Errc::not_found, "no such directory");
}

Attr Namespace::part_folder_attr(std::size_t row) const {
  Attr a = dir_attr_locked(part_folder_inode(current_->serials[row]));
  a.mtime = states_[row].mtime;
  return a;
}

Result<Attr> Namespace::getattr(std::uint64_t ino) {
  const NodeKind k = kind_of_inode(ino);
  if (has_dir(k)) return dir_attr(ino);
  std::lock_guard lock(mu_);
  if (const auto row = row_of_inode(ino); row && visible(*row)) {
    if (k == NodeKind::part_folder) return part_folder_attr(*row);
    if (k == NodeKind::message) return message_attr(*row);
    if (k == NodeKind::stub) return stub_attr(*row);
  }
  if (const auto it = orphans_.find(ino); it != orphans_.end()) return it->second.attr;
  return Error(Errc::not_found, "no such inode");
}

namespace {
bool file_of_message(std::uint64_t ino) {
  const NodeKind k = kind_of_inode(ino);
  return k == NodeKind::message || k == NodeKind::stub;
}
}  // namespace

void Namespace::add_lookup(std::uint64_t ino, std::uint64_t count) {
  if (!file_of_message(ino)) return;
  std::lock_guard lock(mu_);
  const auto row = row_of_inode(ino);
  if (!row || !visible(*row)) return;
  State& s = states_[*row];
  if (kind_of_inode(ino) == NodeKind::message) {
    s.message_lookups = saturating_add(s.message_lookups, count);
  } else {
    s.stub_lookups = saturating_add(s.stub_lookups, count);
  }
}

void Namespace::forget(std::uint64_t ino, std::uint64_t count) {
  if (!file_of_message(ino)) return;
  std::lock_guard lock(mu_);
  if (const auto it = orphans_.find(ino); it != orphans_.end()) {
    it->second.lookups = it->second.lookups > count ? it->second.lookups - count : 0;
    if (it->second.lookups == 0) orphans_.erase(it);
    return;
  }
  const auto row = row_of_inode(ino);
  if (!row) return;
  State& s = states_[*row];
  // The kernel dropped the inode, and its page cache with it.
  if (kind_of_inode(ino) == NodeKind::message) {
    s.message_lookups = saturating_sub(s.message_lookups, count);
    // (kSizeLearnt stays: a reply made before the size was learnt may still create the inode.)
    if (s.message_lookups == 0) s.flags &= static_cast<std::uint16_t>(~kMessagePushed);
  } else {
    s.stub_lookups = saturating_sub(s.stub_lookups, count);
    if (s.stub_lookups == 0) s.flags &= static_cast<std::uint16_t>(~kStubPushed);
  }
}

NodeKind Namespace::kind(std::uint64_t ino) {
  const NodeKind k = kind_of_inode(ino);
  if (has_dir(k) || k == NodeKind::none) return k;
  if (k == NodeKind::cur_dir || k == NodeKind::new_dir || k == NodeKind::tmp_dir) return NodeKind::none;
  std::lock_guard lock(mu_);
  if (const auto row = row_of_inode(ino); row && visible(*row)) return k;
  return orphans_.count(ino) != 0 ? k : NodeKind::none;
}

std::optional<Message> Namespace::message_of(std::uint64_t ino) {
  std::lock_guard lock(mu_);
  const auto row = row_of_inode(ino);
  if (!row || (states_[*row].flags & kHidden) != 0) return std::nullopt;
  return message_at(*row);
}

std::optional<Message> Namespace::message(std::uint64_t serial) {
  std::lock_guard lock(mu_);
  const auto row = row_of_serial(*current_, serial);
  if (!row) return std::nullopt;
  return message_at(*row);
}

std::optional<Message> Namespace::message_named(std::uint64_t dir, std::string_view name) {
  std::lock_guard lock(mu_);
  const auto row = row_in_dir(dir, name);
  if (!row) return std::nullopt;
  return message_at(*row);
}

std::optional<std::uint64_t> Namespace::stub_pending(std::uint64_t ino) {
  if (!file_of_message(ino)) return std::nullopt;
  std::lock_guard lock(mu_);
  const auto row = row_of_inode(ino);
  if (!row || !visible(*row) || !stub_pending_at(*row)) return std::nullopt;
  return current_->serials[*row];
}

std::optional<std::uint64_t> Namespace::stub_pending(std::uint64_t parent, std::string_view name) {
  const NodeKind k = kind_of_inode(parent);
  if (k != NodeKind::root && k != NodeKind::headers_dir && k != NodeKind::cur_dir && k != NodeKind::new_dir) {
    return std::nullopt;
  }
  std::lock_guard lock(mu_);
  const auto row = row_in_dir(parent, name);
  if (!row || !visible(*row) || !stub_pending_at(*row)) return std::nullopt;
  return current_->serials[*row];
}

// ---- directories -----------------------------------------------------------------------

Result<std::shared_ptr<const DirSnapshot>> Namespace::open_dir(std::uint64_t ino) {
  const NodeKind k = kind(ino);
  if (k == NodeKind::none) return Error(Errc::not_found, "not a directory");
  if (!has_dir(k)) return Error(Errc::not_a_directory, "not a directory");
  std::lock_guard lock(mu_);
  auto snapshot = std::make_shared<DirSnapshot>();
  snapshot->version = current_;
  snapshot->kind = k;
  return std::shared_ptr<const DirSnapshot>(std::move(snapshot));
}

std::vector<ListedEntry> Namespace::read_dir(const DirSnapshot& snapshot, std::uint64_t offset, std::size_t max) {
  std::vector<ListedEntry> items;
  const auto fixed = fixed_entries(snapshot.kind, true);
  for (; offset < fixed.size() && items.size() < max; ++offset) {
    items.push_back(ListedEntry{DirEntry{fixed[offset].first, fixed[offset].second, true}, std::nullopt, false,
                                offset + 1 < fixed.size() ? offset + 1 : kFirstRowOffset});
  }
  if (offset < kFirstRowOffset) offset = kFirstRowOffset;
  const NodeKind k = snapshot.kind;
  if (k == NodeKind::tmp_dir || (k == NodeKind::root && maildir())) return items;
  std::lock_guard lock(mu_);
  const Version& v = *snapshot.version;
  const bool same = snapshot.version == current_;
  for (std::size_t row = static_cast<std::size_t>(offset - kFirstRowOffset);
       row < v.serials.size() && items.size() < max; ++row) {
    const auto now_row = same ? std::optional<std::size_t>(row) : row_of_serial(*current_, v.serials[row]);
    if (!now_row || !visible(*now_row)) continue;
    const State& s = states_[*now_row];
    if (k == NodeKind::cur_dir && (s.flags & kInCur) == 0) continue;
    if (k == NodeKind::new_dir && (s.flags & kInCur) != 0) continue;
    const std::uint64_t serial = v.serials[row];
    ListedEntry item;
    if (k == NodeKind::headers_dir) {
      item.entry = DirEntry{name_at(v, row), stub_inode(serial), false};
      item.attr = stub_attr(*now_row);
    } else if (k == NodeKind::parts_dir) {
      std::string name = name_at(v, row);
      name.resize(name.size() - 4);
      item.entry = DirEntry{std::move(name), part_folder_inode(serial), true};
      item.attr = part_folder_attr(*now_row);
    } else {
      item.entry = DirEntry{message_name(v, row, s), message_inode(serial), false};
      item.attr = message_attr(*now_row);
    }
    item.stub_pending = k != NodeKind::parts_dir && stub_pending_at(*now_row);
    item.next_offset = kFirstRowOffset + row + 1;
    items.push_back(std::move(item));
  }
  return items;
}

Result<Namespace::Renamed> Namespace::rename(std::uint64_t from_dir, std::string_view from, std::uint64_t to_dir,
                                              std::string_view to, std::int64_t now) {
  const auto is_mail_dir = [](std::uint64_t dir) { return dir == kCurInode || dir == kNewInode; };
  if (!maildir() || !is_mail_dir(from_dir) || !is_mail_dir(to_dir)) {
    return Error(Errc::read_only, "names come from the server: only a Maildir message's place and flags change");
  }
  std::lock_guard lock(mu_);
  const auto row = row_in_dir(from_dir, from);
  if (!row) return Error(Errc::not_found, "no such message");
  // What NeoMutt and notmuch do (doc/maildir-clients.md): the unique part stays, the
  // target is in new/ or cur/, with or without ":2,FLAGS".
  const std::string base = maildir_base(current_->table->uidl(*row), current_->table->occurrence(*row));
  if (to.substr(0, base.size()) != base) return Error(Errc::read_only, "a message keeps its name; only its flags change");
  const std::string_view rest = to.substr(base.size());
  std::uint8_t stored = to_dir == kCurInode ? store::kMailFlagInCur : 0;
  if (!rest.empty()) {
    if (rest.substr(0, 3) != ":2,") return Error(Errc::read_only, "a message keeps its name; only its flags change");
    const auto parsed = parse_flags(rest.substr(3));
    if (!parsed) return Error(Errc::invalid_argument, "Maildir flags are some of DFPRST, each once, in that order");
    stored = static_cast<std::uint8_t>(stored | *parsed | store::kMailFlagHasInfo);
  }
  set_stored_mail_flags(states_[*row], stored);
  note_change_locked(now);
  Renamed renamed;
  renamed.message = message_at(*row);
  renamed.mail_flags = stored;
  return renamed;
}

std::vector<DirEntry> Namespace::all_entries(std::uint64_t dir) {
  std::vector<DirEntry> out;
  auto snapshot = open_dir(dir);
  if (!snapshot) return out;
  std::uint64_t offset = 0;
  for (;;) {
    auto items = read_dir(**snapshot, offset, 4096);
    if (items.empty()) return out;
    for (auto& item : items) out.push_back(std::move(item.entry));
    offset = items.back().next_offset;
  }
}

// ---- learning --------------------------------------------------------------------------

void Namespace::after_size_change(std::size_t row, bool was_exact, Notes& notes) {
  const bool now_exact = exact(row);
  const std::uint16_t flags = states_[row].flags;
  if ((flags & kHidden) != 0) return;
  if ((flags & kHeld) != 0) {
    if (now_exact) reveal(row, notes);
    return;
  }
  if (was_exact && !now_exact) ++inexact_;
  if (!was_exact && now_exact) --inexact_;
}

void Namespace::reveal(std::size_t row, Notes& notes) {
  states_[row].flags &= static_cast<std::uint16_t>(~kHeld);
  --held_;
  ++visible_;
  // The directories changed; a negative dentry of the new name must go too.
  for (auto dir : {kRootInode, kHeadersInode, kPartsInode, kCurInode, kNewInode}) notes.inodes.push_back(dir);
  for (auto& entry : names_of(*current_, row, states_[row])) notes.entries.push_back(std::move(entry));
}

Notes Namespace::learn_body(std::uint64_t serial, std::uint64_t raw_size, std::optional<std::uint64_t> lf_size) {
  Notes notes;
  std::lock_guard lock(mu_);
  const auto row = row_of_serial(*current_, serial);
  if (!row) return notes;
  const bool was_exact = exact(*row);
  const auto before = presented_body_size(*row);
  states_[*row].exact_size = raw_size;
  if (lf_size) lf_body_sizes_[serial] = *lf_size;
  const auto after = presented_body_size(*row);
  // Only an inode the kernel holds has attributes to drop (one syscall each otherwise). One
  // it is making from a reply in flight is out of reach: the next open drops them.
  if (before != after && states_[*row].message_lookups > 0) notes.inodes.push_back(message_inode(serial));
  if (!before && after && !options_.lf) states_[*row].flags |= kSizeLearnt;
  after_size_change(*row, was_exact, notes);
  return notes;
}

void Namespace::set_has_body(std::uint64_t serial, bool cached) {
  std::lock_guard lock(mu_);
  const auto row = row_of_serial(*current_, serial);
  if (!row) return;
  if (cached) {
    states_[*row].flags |= kHasBody;
  } else {
    states_[*row].flags &= static_cast<std::uint16_t>(~kHasBody);
  }
}

Notes Namespace::learn_stub(std::uint64_t serial, std::uint64_t raw_size, std::optional<std::uint64_t> lf_size,
                            std::optional<std::int64_t> date) {
  Notes notes;
  std::lock_guard lock(mu_);
  const auto row = row_of_serial(*current_, serial);
  if (!row) return notes;
  const bool was_exact = exact(*row);
  states_[*row].stub_size = clamp_stub(raw_size);
  if (lf_size) lf_stub_sizes_[serial] = *lf_size;
  if (date) states_[*row].mtime = *date;
  if (states_[*row].message_lookups > 0) notes.inodes.push_back(message_inode(serial));
  if (states_[*row].stub_lookups > 0) notes.inodes.push_back(stub_inode(serial));
  after_size_change(*row, was_exact, notes);
  return notes;
}

void Namespace::learn_stub_size(std::uint64_t serial, std::uint64_t raw_size, std::optional<std::uint64_t> lf_size) {
  std::lock_guard lock(mu_);
  const auto row = row_of_serial(*current_, serial);
  if (!row) return;
  const bool was_exact = exact(*row);
  states_[*row].stub_size = clamp_stub(raw_size);
  if (lf_size) lf_stub_sizes_[serial] = *lf_size;
  Notes ignored;  // a cached stub made the row exact already
  after_size_change(*row, was_exact, ignored);
}

Notes Namespace::set_has_stub(std::uint64_t serial, bool cached) {
  Notes notes;
  std::lock_guard lock(mu_);
  const auto row = row_of_serial(*current_, serial);
  if (!row) return notes;
  const bool was_exact = exact(*row);
  if (cached) {
    states_[*row].flags |= kHasStub;
  } else {
    states_[*row].flags &= static_cast<std::uint16_t>(~kHasStub);  // the cache lost it
  }
  after_size_change(*row, was_exact, notes);
  return notes;
}

Notes Namespace::mark_top_unsupported() {
  Notes notes;
  std::lock_guard lock(mu_);
  if (top_unsupported_) return notes;
  top_unsupported_ = true;
  inexact_ = 0;
  for (std::size_t row = 0; row < states_.size(); ++row) {
    const std::uint16_t flags = states_[row].flags;
    if ((flags & kHidden) != 0) continue;
    if ((flags & kHeld) != 0) {
      if (exact(row)) reveal(row, notes);
    } else if (!exact(row)) {
      ++inexact_;
    }
  }
  return notes;
}

std::int64_t Namespace::dir_mtime_ns() {
  std::lock_guard lock(mu_);
  return dir_mtime_ns_;
}

void Namespace::note_dir_mtime_ns(std::int64_t mtime_ns) {
  std::lock_guard lock(mu_);
  dir_mtime_ns_ = std::max(dir_mtime_ns_, mtime_ns);
}

void Namespace::note_change(std::int64_t now) {
  std::lock_guard lock(mu_);
  note_change_locked(now);
}

void Namespace::note_change_locked(std::int64_t now) {
  dir_mtime_ns_ = std::max(now * 1'000'000'000, dir_mtime_ns_ + 1);
}

bool Namespace::top_unsupported() {
  std::lock_guard lock(mu_);
  return top_unsupported_;
}

void Namespace::orphan(std::size_t row) {
  State& s = states_[row];
  const std::uint64_t serial = current_->serials[row];
  if (s.message_lookups > 0) orphans_[message_inode(serial)] = Orphan{message_attr(row), s.message_lookups};
  if (s.stub_lookups > 0) orphans_[stub_inode(serial)] = Orphan{stub_attr(row), s.stub_lookups};
  s.message_lookups = s.stub_lookups = 0;
}

std::optional<std::vector<std::pair<std::uint64_t, std::string>>> Namespace::hide(std::uint64_t serial) {
  std::lock_guard lock(mu_);
  const auto row = row_of_serial(*current_, serial);
  if (!row || !visible(*row)) return std::nullopt;
  if (!exact(*row)) --inexact_;
  --visible_;
  orphan(*row);
  auto names = names_of(*current_, *row, states_[*row]);
  states_[*row].flags |= kHidden;
  return names;
}

// ---- sequences -------------------------------------------------------------------------

std::optional<std::size_t> Namespace::position(std::uint64_t serial) {
  std::lock_guard lock(mu_);
  const auto row = row_of_serial(*current_, serial);
  if (!row || !visible(*row)) return std::nullopt;
  return row;
}

std::vector<Message> Namespace::uncached_after(std::uint64_t serial, std::size_t count) {
  std::vector<Message> out;
  std::lock_guard lock(mu_);
  const auto row = row_of_serial(*current_, serial);
  if (!row) return out;
  std::size_t seen = 0;
  for (std::size_t r = *row + 1; r < states_.size() && seen < count; ++r) {
    if (!visible(r)) continue;
    ++seen;
    if ((states_[r].flags & kHasBody) == 0) out.push_back(message_at(r));
  }
  return out;
}

std::vector<Message> Namespace::held_messages() {
  std::vector<Message> out;
  std::lock_guard lock(mu_);
  for (std::size_t r = 0; r < states_.size(); ++r) {
    if ((states_[r].flags & kHeld) != 0) out.push_back(message_at(r));
  }
  return out;
}

std::vector<Message> Namespace::visible_messages() {
  std::vector<Message> out;
  std::lock_guard lock(mu_);
  out.reserve(visible_);
  for (std::size_t r = 0; r < states_.size(); ++r) {
    if (visible(r)) out.push_back(message_at(r));
  }
  return out;
}

std::vector<std::uint64_t> Namespace::stubless(std::size_t& row, std::size_t max) {
  std::vector<std::uint64_t> out;
  std::lock_guard lock(mu_);
  for (; row < states_.size() && out.size() < max; ++row) {
    if (visible(row) && stub_pending_at(row)) out.push_back(current_->serials[row]);
  }
  return out;
}

bool Namespace::knows_any(const MessageTable& table) {
  std::lock_guard lock(mu_);
  if (!current_->table) return false;
  for (std::size_t row = 0; row < table.size(); ++row) {
    if (current_->table->find(table.uidl(row), 1)) return true;
  }
  return false;
}

std::vector<Namespace::PushCandidate> Namespace::push_candidates(std::uint64_t serial, bool stubs, std::size_t files,
                                                                 std::uint64_t bytes, std::uint64_t file_limit) {
  std::vector<PushCandidate> out;
  std::lock_guard lock(mu_);
  const auto row = row_of_serial(*current_, serial);
  if (!row || !visible(*row)) return out;
  std::uint64_t total = 0;
  std::size_t seen = 0;
  for (std::size_t r = *row + 1; r < states_.size() && seen < files; ++r) {
    if (!visible(r)) continue;
    ++seen;
    State& s = states_[r];
    const bool local = (s.flags & (stubs ? kHasStub : kHasBody)) != 0;
    const auto size = stubs ? presented_stub_size(r) : presented_body_size(r);
    const bool held_by_kernel = (stubs ? s.stub_lookups : s.message_lookups) > 0;
    const std::uint16_t pushed = stubs ? kStubPushed : kMessagePushed;
    // Only inodes the kernel holds can take pages; each once until the kernel forgets it.
    if (!local || !size || !held_by_kernel || (s.flags & pushed) != 0) continue;
    if (*size > file_limit) continue;
    if (total + *size > bytes) break;
    total += *size;
    s.flags |= pushed;
    const std::uint64_t serial_r = current_->serials[r];
    out.push_back(PushCandidate{stubs ? stub_inode(serial_r) : message_inode(serial_r), serial_r, *size});
  }
  return out;
}

bool Namespace::mark_pushed(std::uint64_t ino) {
  if (!file_of_message(ino)) return false;
  std::lock_guard lock(mu_);
  const auto row = row_of_inode(ino);
  if (!row || !visible(*row)) return false;
  const std::uint16_t flag = kind_of_inode(ino) == NodeKind::message ? kMessagePushed : kStubPushed;
  if ((states_[*row].flags & flag) != 0) return false;
  states_[*row].flags |= flag;
  return true;
}

void Namespace::unmark_pushed(std::uint64_t ino) {
  if (!file_of_message(ino)) return;
  std::lock_guard lock(mu_);
  const auto row = row_of_inode(ino);
  if (!row) return;
  const std::uint16_t flag = kind_of_inode(ino) == NodeKind::message ? kMessagePushed : kStubPushed;
  states_[*row].flags &= static_cast<std::uint16_t>(~flag);
}

// ---- opens -----------------------------------------------------------------------------

bool Namespace::every_size_exact() {
  std::lock_guard lock(mu_);
  return inexact_ == 0;
}

bool Namespace::opens_skipped() {
  std::lock_guard lock(mu_);
  return opens_skipped_;
}

std::vector<std::uint64_t> Namespace::skip_opens() {
  std::lock_guard lock(mu_);
  std::vector<std::uint64_t> refresh;
  if (opens_skipped_) return refresh;
  opens_skipped_ = true;
  for (std::size_t row = 0; row < states_.size(); ++row) {
    if ((states_[row].flags & kSizeLearnt) == 0) continue;
    states_[row].flags &= static_cast<std::uint16_t>(~kSizeLearnt);
    refresh.push_back(message_inode(current_->serials[row]));
  }
  return refresh;
}

bool Namespace::take_size_learnt(std::uint64_t ino) {
  if (kind_of_inode(ino) != NodeKind::message) return false;
  std::lock_guard lock(mu_);
  const auto row = row_of_inode(ino);
  if (!row || (states_[*row].flags & kSizeLearnt) == 0) return false;
  states_[*row].flags &= static_cast<std::uint16_t>(~kSizeLearnt);
  return true;
}

Namespace::Counts Namespace::counts() {
  std::lock_guard lock(mu_);
  Counts c;
  c.visible = visible_;
  c.held = held_;
  const Version& v = *current_;
  c.memory_bytes = (v.table ? v.table->memory_bytes() : 0) + v.serials.capacity() * sizeof(std::uint64_t) +
                   v.by_serial.capacity() * sizeof(std::uint32_t) + states_.capacity() * sizeof(State) +
                   (lf_body_sizes_.size() + lf_stub_sizes_.size()) * 32 + orphans_.size() * 128;
  return c;
}

}  // namespace popfs::fs
