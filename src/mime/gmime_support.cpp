#include "gmime_support.hpp"

#include <cerrno>
#include <cstring>
#include <mutex>

namespace popfs::mime::detail {

namespace {
GType view_stream_type();

// GLib builds type classes, charset tables and the like on first use, under its own futex
// locks that ThreadSanitizer cannot see; the first parses of two threads then look like races
// in the tsan build. One parse of a message that takes every path the mime layer takes, here
// inside call_once, builds all of it before any second thread can get to it.
void build_lazy_state() {
  static const char kSample[] =
      "From: =?iso-8859-1?Q?J=F6rg?= <j@example.org>, \"B\" <b@example.org>\r\n"
      "Subject: =?UTF-8?B?w6l0w6k=?= =?windows-1252?Q?caf=E9?=\r\n"
      "Date: Mon, 1 Jan 2024 00:00:00 +0000\r\n"
      "Content-Type: multipart/mixed; boundary=o\r\n\r\n"
      "--o\r\nContent-Type: multipart/alternative; boundary=a\r\n\r\n"
      "--a\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: "
      "quoted-printable\r\n\r\nr=C3=A9sum=C3=A9\r\n"
      "--a\r\nContent-Type: text/html; charset=iso-8859-1\r\n\r\n<p>x</p>\r\n--a--\r\n"
      "--o\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\ninner\r\n"
      "--o\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment;\r\n"
      " filename*=UTF-8''%C3%A9t%C3%A9.bin\r\nContent-Transfer-Encoding: base64\r\n\r\n"
      "AAECAw==\r\n--o--\r\n";
  GObjectPtr<GMimeStream> stream(g_mime_stream_mem_new_with_buffer(kSample, sizeof kSample - 1));
  GObjectPtr<GMimeParser> parser(g_mime_parser_new_with_stream(stream.get()));
  GMimeParserOptions* options = g_mime_parser_options_new();
  static const char* fallback_charsets[] = {"UTF-8", "windows-1252", nullptr};
  g_mime_parser_options_set_fallback_charsets(options, fallback_charsets);
  GObjectPtr<GMimeMessage> message(g_mime_parser_construct_message(parser.get(), options));
  if (message) {
    GString subject(g_mime_utils_header_decode_text(options, g_mime_object_get_header(
                                                                 GMIME_OBJECT(message.get()), "Subject")));
    GString from(internet_address_list_to_string(g_mime_message_get_from(message.get()), nullptr, FALSE));
    g_mime_message_foreach(
        message.get(),
        [](GMimeObject*, GMimeObject* part, gpointer) {
          GString type(g_mime_content_type_get_mime_type(g_mime_object_get_content_type(part)));
          if (GMIME_IS_PART(part)) {
            static_cast<void>(g_mime_part_get_filename(GMIME_PART(part)));
            static_cast<void>(g_mime_part_get_content_encoding(GMIME_PART(part)));
          }
        },
        nullptr);
  }
  g_mime_parser_options_free(options);
  for (auto encoding : {GMIME_CONTENT_ENCODING_BASE64, GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE,
                        GMIME_CONTENT_ENCODING_UUENCODE}) {
    GObjectPtr<GMimeFilter> filter(g_mime_filter_basic_new(encoding, FALSE));
  }
}

}  // namespace

void ensure_gmime() {
  static std::once_flag once;
  std::call_once(once, [] {
    g_mime_init();
    g_type_class_unref(g_type_class_ref(view_stream_type()));
    build_lazy_state();
  });
}

ParserOptions make_parser_options() {
  ensure_gmime();
  ParserOptions options(g_mime_parser_options_new());
  static const char* fallback_charsets[] = {"UTF-8", "windows-1252", nullptr};
  g_mime_parser_options_set_fallback_charsets(options.get(), fallback_charsets);
  return options;
}

// ---- A GMimeStream over bytes owned by the caller ------------------------------------------
// GMimeStreamMem would copy the whole message into a GByteArray; this one reads in place.
// Positions are absolute offsets into the bytes, bounded by [bound_start, bound_end) as GMime
// streams are (bound_end -1: the end of the bytes).

namespace {

struct ViewStream {
  GMimeStream parent;
  const char* data;
  gint64 size;
};

struct ViewStreamClass {
  GMimeStreamClass parent_class;
};

ViewStream* as_view(GMimeStream* stream) { return reinterpret_cast<ViewStream*>(stream); }

gint64 end_of(GMimeStream* stream) {
  return stream->bound_end != -1 ? stream->bound_end : as_view(stream)->size;
}

ssize_t view_read(GMimeStream* stream, char* buf, size_t len) {
  const gint64 available = end_of(stream) - stream->position;
  if (available < 0) {
    errno = EINVAL;
    return -1;
  }
  const auto n = static_cast<size_t>(available) < len ? static_cast<size_t>(available) : len;
  if (n > 0) {
    std::memcpy(buf, as_view(stream)->data + stream->position, n);
    stream->position += static_cast<gint64>(n);
  }
  return static_cast<ssize_t>(n);
}

ssize_t view_write(GMimeStream*, const char*, size_t) {
  errno = EBADF;
  return -1;
}

int view_flush(GMimeStream*) { return 0; }
int view_close(GMimeStream*) { return 0; }
gboolean view_eos(GMimeStream* stream) { return stream->position >= end_of(stream); }
int view_reset(GMimeStream*) { return 0; }  // g_mime_stream_reset moves to bound_start itself

gint64 view_seek(GMimeStream* stream, gint64 offset, GMimeSeekWhence whence) {
  gint64 target = stream->position;
  switch (whence) {
    case GMIME_STREAM_SEEK_SET: target = offset; break;
    case GMIME_STREAM_SEEK_CUR: target = stream->position + offset; break;
    case GMIME_STREAM_SEEK_END: target = end_of(stream) + offset; break;
  }
  if (target < stream->bound_start || target > end_of(stream)) {
    errno = EINVAL;
    return -1;
  }
  stream->position = target;
  return target;
}

gint64 view_tell(GMimeStream* stream) { return stream->position; }
gint64 view_length(GMimeStream* stream) { return end_of(stream) - stream->bound_start; }

GType view_stream_type();

GMimeStream* view_substream(GMimeStream* stream, gint64 start, gint64 end) {
  auto* sub = static_cast<ViewStream*>(g_object_new(view_stream_type(), nullptr));
  sub->data = as_view(stream)->data;
  sub->size = as_view(stream)->size;
  g_mime_stream_construct(&sub->parent, start, end);
  return &sub->parent;
}

void view_class_init(gpointer klass, gpointer) {
  auto* stream_class = static_cast<GMimeStreamClass*>(klass);
  stream_class->read = view_read;
  stream_class->write = view_write;
  stream_class->flush = view_flush;
  stream_class->close = view_close;
  stream_class->eos = view_eos;
  stream_class->reset = view_reset;
  stream_class->seek = view_seek;
  stream_class->tell = view_tell;
  stream_class->length = view_length;
  stream_class->substream = view_substream;
}

GType view_stream_type() {
  static const GType type = [] {  // first called from ensure_gmime()
    GTypeInfo info{};
    info.class_size = sizeof(ViewStreamClass);
    info.class_init = view_class_init;
    info.instance_size = sizeof(ViewStream);
    return g_type_register_static(g_mime_stream_get_type(), "PopfsMimeViewStream", &info,
                                  static_cast<GTypeFlags>(0));
  }();
  return type;
}

}  // namespace

GObjectPtr<GMimeStream> make_view_stream(std::string_view bytes) {
  ensure_gmime();
  auto* stream = static_cast<ViewStream*>(g_object_new(view_stream_type(), nullptr));
  stream->data = bytes.data();
  stream->size = static_cast<gint64>(bytes.size());
  g_mime_stream_construct(&stream->parent, 0, static_cast<gint64>(bytes.size()));
  return GObjectPtr<GMimeStream>(&stream->parent);
}

std::optional<ByteRange> view_range(GMimeStream* stream, std::string_view bytes) {
  if (stream == nullptr || !G_TYPE_CHECK_INSTANCE_TYPE(stream, view_stream_type())) {
    return std::nullopt;
  }
  if (as_view(stream)->data != bytes.data()) return std::nullopt;
  const gint64 size = static_cast<gint64>(bytes.size());
  const gint64 start = stream->bound_start;
  const gint64 end = stream->bound_end == -1 ? size : stream->bound_end;
  if (start < 0 || start > end || end > size) return std::nullopt;
  return ByteRange{static_cast<std::size_t>(start), static_cast<std::size_t>(end - start)};
}

GObjectPtr<GMimeMessage> parse_message(std::string_view bytes, GMimeParserOptions* options) {
  auto stream = make_view_stream(bytes);
  GObjectPtr<GMimeParser> parser(g_mime_parser_new_with_stream(stream.get()));
  g_mime_parser_set_format(parser.get(), GMIME_FORMAT_MESSAGE);
  g_mime_parser_set_persist_stream(parser.get(), TRUE);
  return GObjectPtr<GMimeMessage>(g_mime_parser_construct_message(parser.get(), options));
}

}  // namespace popfs::mime::detail
