#include "popfs/mime/part_tree.hpp"

#include <algorithm>
#include <charconv>

#include "gmime_support.hpp"
#include "input_guard.hpp"
#include "popfs/mime/part_names.hpp"
#include "raw_ranges.hpp"
#include "transfer_decode.hpp"

namespace popfs::mime {

std::string PartPath::to_string() const {
  std::string out;
  for (std::size_t i = 0; i < indices.size(); ++i) {
    if (i > 0) out += '.';
    out += std::to_string(indices[i]);
  }
  return out;
}

std::optional<PartPath> PartPath::parse(std::string_view text) {
  PartPath path;
  while (true) {
    const auto dot = text.find('.');
    const std::string_view item = text.substr(0, dot);
    std::uint32_t index = 0;
    const auto [end, ec] = std::from_chars(item.data(), item.data() + item.size(), index);
    if (item.empty() || item.front() == '0' || ec != std::errc() ||
        end != item.data() + item.size()) {
      return std::nullopt;
    }
    path.indices.push_back(index);
    if (dot == std::string_view::npos) return path;
    text.remove_prefix(dot + 1);
  }
}

namespace {

using detail::GObjectPtr;
using detail::GString;

std::string lowered(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  });
  return text;
}

std::string mime_type_of(GMimeObject* object) {
  GMimeContentType* type = g_mime_object_get_content_type(object);
  if (type == nullptr) return "application/octet-stream";
  GString text(g_mime_content_type_get_mime_type(type));
  return lowered(detail::to_string(text.get()));
}

// What the sender called the part: Content-Disposition filename, else Content-Type name
// (GMime has decoded RFC 2231 and RFC 2047 in both).
std::string sender_name(GMimeObject* object) {
  const char* name = g_mime_object_get_content_disposition_parameter(object, "filename");
  if (name == nullptr || *name == '\0') {
    name = g_mime_object_get_content_type_parameter(object, "name");
  }
  return detail::to_string(name);
}

TransferEncoding transfer_encoding_of(GMimeDataWrapper* content) {
  switch (g_mime_data_wrapper_get_encoding(content)) {
    case GMIME_CONTENT_ENCODING_BASE64: return TransferEncoding::base64;
    case GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE: return TransferEncoding::quoted_printable;
    case GMIME_CONTENT_ENCODING_UUENCODE: return TransferEncoding::uuencode;
    default: return TransferEncoding::identity;
  }
}

PartPath child_path(const PartPath& parent, std::size_t index) {
  PartPath path = parent;
  path.indices.push_back(static_cast<std::uint32_t>(index));
  return path;
}

bool ends_with_eml(std::string_view name) {
  if (name.size() < 4) return false;
  const std::string tail = lowered(std::string(name.substr(name.size() - 4)));
  return tail == ".eml";
}

class TreeBuilder {
 public:
  TreeBuilder(std::string_view input, const PartLimits& limits, PartTree& tree)
      : input_(input), limits_(limits), tree_(tree) {}

  // The entries for a body (a message's MIME part) whose own path is `base`: the children
  // of a multipart at base.1, base.2 ..., or the single part at base.1.
  void list_body(GMimeObject* body, const PartPath& base, std::size_t depth,
                 std::vector<PartEntry>& folder) {
    UniqueNames names;
    if (GMIME_IS_MULTIPART(body) && g_mime_multipart_get_count(GMIME_MULTIPART(body)) > 0) {
      GMimeMultipart* multipart = GMIME_MULTIPART(body);
      list_children(multipart, base, depth, folder, names);
    } else {
      list_object(body, child_path(base, 1), depth, folder, names);
    }
  }

 private:
  void list_children(GMimeMultipart* multipart, const PartPath& path, std::size_t depth,
                     std::vector<PartEntry>& folder, UniqueNames& names) {
    boundaries_.push_back(detail::to_string(g_mime_multipart_get_boundary(multipart)));
    const int count = g_mime_multipart_get_count(multipart);
    for (int i = 0; i < count; ++i) {
      list_object(g_mime_multipart_get_part(multipart, i),
                  child_path(path, static_cast<std::size_t>(i) + 1), depth, folder, names);
    }
    boundaries_.pop_back();
  }

  void list_object(GMimeObject* object, const PartPath& path, std::size_t depth,
                   std::vector<PartEntry>& folder, UniqueNames& names) {
    if (object == nullptr) return;
    if (depth > limits_.max_depth || listed_ >= limits_.max_entries) {
      ++tree_.omitted;
      return;
    }
    if (GMIME_IS_MULTIPART(object) && g_mime_multipart_get_count(GMIME_MULTIPART(object)) == 0) {
      list_unsplit_multipart(object, path, folder, names);
    } else if (GMIME_IS_MULTIPART(object)) {
      PartEntry entry = make_folder(object, path, names);
      UniqueNames child_names;
      list_children(GMIME_MULTIPART(object), path, depth + 1, entry.children, child_names);
      folder.push_back(std::move(entry));
    } else if (GMIME_IS_MESSAGE_PART(object)) {
      list_message_part(object, path, depth, folder, names);
    } else if (GMIME_IS_PART(object)) {
      list_leaf(GMIME_PART(object), path, folder, names);
    }
  }

  PartEntry make_folder(GMimeObject* object, const PartPath& path, UniqueNames& names) {
    ++listed_;
    PartEntry entry;
    entry.kind = PartEntry::Kind::folder;
    entry.path = path;
    std::string name = sanitize_part_name(sender_name(object));
    if (name.empty()) name = "part-" + path.to_string();
    entry.name = names.claim(name);
    return entry;
  }

  // An entry for a part that is listed, under the sender's name or one made from its path.
  PartEntry named_entry(GMimeObject* object, const PartPath& path, UniqueNames& names) {
    ++listed_;
    PartEntry entry;
    entry.path = path;
    entry.content_type = mime_type_of(object);
    std::string name = sanitize_part_name(sender_name(object));
    if (name.empty()) name = generated_part_name(path.to_string(), entry.content_type);
    entry.name = names.claim(name);
    return entry;
  }

  void list_leaf(GMimePart* part, const PartPath& path, std::vector<PartEntry>& folder,
                 UniqueNames& names) {
    GMimeObject* object = GMIME_OBJECT(part);
    PartEntry entry = named_entry(object, path, names);

    GMimeDataWrapper* content = g_mime_part_get_content(part);
    GMimeStream* stream = content != nullptr ? g_mime_data_wrapper_get_stream(content) : nullptr;
    if (const auto range = detail::view_range(stream, input_)) {
      entry.content_offset = range->offset;
      entry.content_length = range->length;
      entry.encoding = transfer_encoding_of(content);
      entry.decoded_size = detail::decoded_length(
          input_.substr(range->offset, range->length), entry.encoding);
    }
    folder.push_back(std::move(entry));
  }

  // A multipart in which GMime found no parts (no boundary parameter, or its boundary never
  // occurs): its body as it is, so that nothing is hidden.
  void list_unsplit_multipart(GMimeObject* object, const PartPath& path,
                              std::vector<PartEntry>& folder, UniqueNames& names) {
    PartEntry entry = named_entry(object, path, names);
    const auto range = detail::body_range(object, input_, boundaries_);
    entry.content_offset = range.offset;
    entry.content_length = range.length;
    entry.decoded_size = range.length;
    folder.push_back(std::move(entry));
  }

  // A folder of the forwarded message's parts and, beside it, its raw bytes as "<name>.eml".
  void list_message_part(GMimeObject* object, const PartPath& path, std::size_t depth,
                         std::vector<PartEntry>& folder, UniqueNames& names) {
    GMimeMessage* message = g_mime_message_part_get_message(GMIME_MESSAGE_PART(object));
    GMimeObject* body = message != nullptr ? g_mime_message_get_mime_part(message) : nullptr;

    std::string stem = sanitize_part_name(sender_name(object));
    if (ends_with_eml(stem)) stem = sanitize_part_name(stem.substr(0, stem.size() - 4));
    if (stem.empty()) stem = "part-" + path.to_string();
    stem = names.claim_pair(stem, ".eml");

    if (body != nullptr) {
      ++listed_;
      PartEntry entry;
      entry.kind = PartEntry::Kind::folder;
      entry.path = path;
      entry.name = stem;
      list_body(body, path, depth + 1, entry.children);
      folder.push_back(std::move(entry));
    }
    if (listed_ >= limits_.max_entries) {
      ++tree_.omitted;
      return;
    }
    ++listed_;
    PartEntry raw;
    raw.path = path;
    raw.name = stem + ".eml";
    raw.content_type = mime_type_of(object);
    raw.raw_message = true;
    const auto range = detail::message_part_range(object, message, input_, boundaries_);
    raw.content_offset = range.offset;
    raw.content_length = range.length;
    raw.decoded_size = range.length;
    folder.push_back(std::move(raw));
  }

  std::string_view input_;
  const PartLimits& limits_;
  PartTree& tree_;
  std::size_t listed_ = 0;
  std::vector<std::string> boundaries_;  // of the multiparts enclosing the current object
};

const PartEntry* find_in(const std::vector<PartEntry>& entries, const PartPath& path) {
  for (const PartEntry& entry : entries) {
    if (entry.kind == PartEntry::Kind::file && entry.path == path) return &entry;
    if (entry.kind == PartEntry::Kind::folder) {
      const auto& own = entry.path.indices;
      // A folder holds only paths below its own.
      if (own.size() < path.indices.size() &&
          std::equal(own.begin(), own.end(), path.indices.begin())) {
        if (const PartEntry* found = find_in(entry.children, path)) return found;
      }
    }
  }
  return nullptr;
}

}  // namespace

PartTree parse_parts(std::string_view message, const PartLimits& limits) {
  PartTree tree;
  const auto guard = detail::guard_input(message, limits);
  const std::string_view input = message.substr(0, guard.allowed_bytes);
  tree.truncated = guard.cut;

  auto options = detail::make_parser_options();
  // GMime stops descending at its own nesting limit and says so only through this callback.
  g_mime_parser_options_set_warning_callback(
      options.get(),
      [](gint64, GMimeParserWarning warning, const gchar*, gpointer truncated) {
        if (warning == GMIME_CRIT_NESTING_OVERFLOW) *static_cast<bool*>(truncated) = true;
      },
      &tree.truncated);
  auto parsed = detail::parse_message(input, options.get());
  if (!parsed) return tree;
  GMimeObject* body = g_mime_message_get_mime_part(parsed.get());
  if (body == nullptr) return tree;
  TreeBuilder(input, limits, tree).list_body(body, PartPath{}, 1, tree.entries);
  return tree;
}

const PartEntry* find_file(const PartTree& tree, const PartPath& path) {
  return find_in(tree.entries, path);
}

std::string decode_part(std::string_view message, const PartEntry& file) {
  std::string out;
  out.reserve(file.decoded_size);
  decode_part(message, file, [&](std::string_view piece) { out.append(piece); });
  return out;
}

void decode_part(std::string_view message, const PartEntry& file,
                 const std::function<void(std::string_view)>& sink) {
  if (file.kind != PartEntry::Kind::file || file.content_offset > message.size()) return;
  const std::string_view encoded = message.substr(
      file.content_offset, std::min<std::uint64_t>(file.content_length,
                                                   message.size() - file.content_offset));
  detail::transfer_decode(encoded, file.encoding, sink);
}

std::optional<std::string> decode_part(std::string_view message, const PartPath& path,
                                       const PartLimits& limits) {
  const PartTree tree = parse_parts(message, limits);
  const PartEntry* file = find_file(tree, path);
  if (file == nullptr) return std::nullopt;
  return decode_part(message, *file);
}

}  // namespace popfs::mime
