#pragma once
// One thread running one io_context: every network object of an account lives on it, and
// the thread-safe public APIs post their work here.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <future>
#include <thread>
#include <utility>

namespace popfs::net {

class IoThread {
 public:
  IoThread();
  IoThread(const IoThread&) = delete;
  IoThread& operator=(const IoThread&) = delete;
  ~IoThread();  // stops and joins (see stop())

  boost::asio::any_io_executor executor() { return context_.get_executor(); }
  bool running_in_this_thread() const noexcept {
    return std::this_thread::get_id() == thread_.get_id();
  }

  template <class Fn>
  void post(Fn&& fn) {
    boost::asio::post(context_, std::forward<Fn>(fn));
  }

  // Lets queued work finish (at most a few seconds), then stops the loop and joins. Must
  // not be called from the I/O thread itself. Idempotent.
  void stop();

 private:
  boost::asio::io_context context_{1};
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::future<void> finished_;
  std::thread thread_;
};

}  // namespace popfs::net
