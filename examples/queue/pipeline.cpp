// Port of seed 004, "使用Queue来协调各线程之间的工作": a three-stage pipeline — download an
// image, resize it, upload it — with a pool of threads per stage, joined by bounded Queues.
// The seed names the problems a concurrent pipeline must solve — a stage that keeps waiting
// (busy-waits) for work, stopping the worker threads, and memory growing without bound — and
// says that Queue solves all three; it stops before its code. This is the program it describes:
//   - each stage's workers block in get() while their input queue is empty: no polling loop, so
//     a waiting stage costs no CPU. The table below shows each stage's CPU time (per-thread CPU
//     clock) against its threads' wall time: the stages spend almost all their time blocked,
//     either in the simulated work (sleeps, as in the seed's download/resize/upload) or in get()
//     and put();
//   - every queue has a maxsize, so a fast stage blocks in put() once the next stage falls behind
//     and no queue ever holds more than its maxsize (the largest qsize() seen is reported);
//     without it the main thread would pile all 100 downloads into the first queue at once;
//   - workers are stopped by closing their queue: after the main thread has fed everything it
//     calls shutdown() on the first queue and join()s it (join() returns once every item put has
//     been task_done() by a worker, i.e. passed on to the next stage); the workers' get() drains
//     what is left and then raises queue.ShutDown, which ends them. Then the next queue, and so on.
// Items are std::unique_ptr<Image>: a queue moves them from stage to stage, never copies them.
#include <concur/queue.hpp>
#include <concur/threading.hpp>

#include <time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "print.hpp"

namespace cq = concur::queue;
namespace th = concur::threading;
using namespace std::chrono_literals;

constexpr int n_images = 100;

struct Image {
  int id;
  int width;
};
using ImagePtr = std::unique_ptr<Image>;

// The three stages' work, simulated. Upload is the slowest stage (2 threads x 4 ms = 0.5
// images/ms against 1 image/ms for download and resize), so the queues in front of it fill up.
ImagePtr download(int id) {
  th::sleep(3ms);
  return std::make_unique<Image>(Image{id, 4000});
}
ImagePtr resize(ImagePtr img) {
  th::sleep(1ms);
  img->width = 800;
  return img;
}
int upload(ImagePtr img) {
  th::sleep(4ms);
  return img->id;
}

double thread_cpu_ms() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

void atomic_max(std::atomic<long>& m, long v) {
  long seen = m.load();
  while (v > seen && !m.compare_exchange_weak(seen, v)) {
  }
}

// What the threads of one stage did, summed over them.
struct Stage {
  std::string name;
  int threads;
  std::atomic<int> items{0};
  std::atomic<long> cpu_us{0};
  std::atomic<long> wall_us{0};
};

// A queue between two stages, with the largest qsize() any thread saw right after a put().
template <class T>
struct Link {
  std::string name;
  cq::Queue<T> q;
  std::atomic<long> max_seen{0};
  Link(std::string n, int maxsize) : name(std::move(n)), q(maxsize) {}
  void put(T item) {
    q.put(std::move(item));
    atomic_max(max_seen, static_cast<long>(q.qsize()));
  }
};

// One worker thread: take an item, do the stage's work, pass the result on, mark the item done;
// until the input queue is shut down and empty.
template <class In, class Out, class F>
void worker(Stage& stage, Link<In>& in, Link<Out>& out, F func) {
  const auto wall0 = std::chrono::steady_clock::now();
  const double cpu0 = thread_cpu_ms();
  while (true) {
    std::optional<In> item;
    try {
      item.emplace(in.q.get());
    } catch (const cq::ShutDown&) {
      break;  // closed and drained: this stage's work is over
    }
    out.put(func(std::move(*item)));
    in.q.task_done();
    ++stage.items;
  }
  stage.cpu_us += static_cast<long>((thread_cpu_ms() - cpu0) * 1e3);
  stage.wall_us += static_cast<long>(std::chrono::duration_cast<std::chrono::microseconds>(
                                         std::chrono::steady_clock::now() - wall0)
                                         .count());
}

template <class... Args>
std::string fmt(const char* format, Args... args) {
  char buf[160];
  std::snprintf(buf, sizeof buf, format, args...);
  return buf;
}

int main() {
  Link<int> download_q("download_q", 8);   // image ids to download
  Link<ImagePtr> resize_q("resize_q", 4);  // downloaded images
  Link<ImagePtr> upload_q("upload_q", 4);  // resized images
  Link<int> done_q("done_q", 0);           // ids of uploaded images (the results)

  Stage st_download{"download", 3}, st_resize{"resize", 1}, st_upload{"upload", 2};
  std::vector<th::Thread> threads;
  for (int i = 0; i < st_download.threads; ++i)
    threads.emplace_back(worker<int, ImagePtr, ImagePtr (*)(int)>, std::ref(st_download),
                         std::ref(download_q), std::ref(resize_q), download);
  for (int i = 0; i < st_resize.threads; ++i)
    threads.emplace_back(worker<ImagePtr, ImagePtr, ImagePtr (*)(ImagePtr)>, std::ref(st_resize),
                         std::ref(resize_q), std::ref(upload_q), resize);
  for (int i = 0; i < st_upload.threads; ++i)
    threads.emplace_back(worker<ImagePtr, int, int (*)(ImagePtr)>, std::ref(st_upload),
                         std::ref(upload_q), std::ref(done_q), upload);
  print("pipeline:", n_images,
        "images; download (3 threads) -> resize (1 thread) -> upload (2 threads)");

  const auto t0 = std::chrono::steady_clock::now();
  for (auto& t : threads) t.start();
  for (int id = 0; id < n_images; ++id) download_q.put(id);  // blocks while download_q is full

  download_q.q.shutdown();  // no more downloads: the download workers drain it and stop
  download_q.q.join();      // every id downloaded and handed to resize_q
  resize_q.q.shutdown();
  resize_q.q.join();
  upload_q.q.shutdown();
  upload_q.q.join();
  for (auto& t : threads) t.join();
  const double wall_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();

  // 100 items finished — and each exactly once
  std::vector<int> ids;
  while (auto id = done_q.q.try_get()) ids.push_back(*id);
  std::sort(ids.begin(), ids.end());
  bool exactly_once = ids.size() == n_images;
  for (int i = 0; exactly_once && i < n_images; ++i) exactly_once = ids[i] == i;
  print(ids.size(), "items finished in", std::to_string(static_cast<int>(wall_ms)) + " ms",
        exactly_once ? "(each image uploaded exactly once)" : "(WRONG: lost or duplicated images)");

  print("(wall ms: the lifetimes of the stage's threads added up; cpu ms: the CPU time they used)");
  print(fmt("%-10s %7s %6s %9s %8s %9s", "stage", "threads", "items", "wall ms", "cpu ms",
            "cpu/wall"));
  bool no_busy_wait = true;
  for (Stage* s : {&st_download, &st_resize, &st_upload}) {
    double wall = s->wall_us / 1e3, cpu = s->cpu_us / 1e3, ratio = wall > 0 ? 100 * cpu / wall : 0;
    no_busy_wait = no_busy_wait && ratio < 10;
    print(fmt("%-10s %7d %6d %9.1f %8.2f %8.2f%%", s->name.c_str(), s->threads, s->items.load(),
              wall, cpu, ratio));
  }
  print(fmt("%-10s %7s %19s", "queue", "maxsize", "largest qsize seen"));
  bool bounded = true;
  auto row = [&](const auto& link) {
    bounded = bounded && link.max_seen <= static_cast<long>(link.q.maxsize());
    print(fmt("%-10s %7ld %19ld", link.name.c_str(), static_cast<long>(link.q.maxsize()),
              link.max_seen.load()));
  };
  row(download_q);
  row(resize_q);
  row(upload_q);
  print("no stage busy-waits (each stage's CPU time < 10% of its wall time):",
        no_busy_wait ? "yes" : "NO");
  print("memory stays bounded (no queue ever held more than its maxsize):", bounded ? "yes" : "NO");
}
