#include "popfs/net/io_thread.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <exception>
#include <future>

namespace popfs::net {

IoThread::IoThread() : work_(context_.get_executor()) {
  auto finished = std::make_shared<std::promise<void>>();
  finished_ = finished->get_future();
  thread_ = std::thread([this, finished] {
    for (;;) {
      try {
        context_.run();
        break;
      } catch (const std::exception& e) {
        // A handler threw: log it and keep the loop alive for everything else.
        spdlog::error("network thread: unexpected exception: {}", e.what());
      }
    }
    finished->set_value();
  });
}

IoThread::~IoThread() { stop(); }

void IoThread::stop() {
  if (!thread_.joinable()) return;
  work_.reset();
  // Normally the loop runs dry at once (owners end their work first); never hang on a
  // straggler, though.
  if (finished_.wait_for(std::chrono::seconds(5)) != std::future_status::ready) {
    spdlog::warn("network thread: work still pending at shutdown, stopping it");
    context_.stop();
  }
  thread_.join();
}

}  // namespace popfs::net
