// The fastest loop OCR users write by hand: OpenCV's getPerspectiveTransform
// + warpPerspective per quad, parallel over quads with OpenMP.  Built and
// run by scripts/bench.sh only, as the reference pixjit is measured against.
// usage: crop_ref page.png quads.txt threads repeats  -> median ms
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <vector>

int main(int argc, char **argv) {
  if (argc < 5) return 2;
  cv::Mat img = cv::imread(argv[1], cv::IMREAD_COLOR);
  std::FILE *f = std::fopen(argv[2], "r");
  if (img.empty() || !f) return 1;
  std::vector<std::array<cv::Point2f, 4>> quads;
  float v[8];
  while (std::fscanf(f, "%f %f %f %f %f %f %f %f", v, v + 1, v + 2, v + 3, v + 4, v + 5, v + 6, v + 7) == 8)
    quads.push_back({cv::Point2f(v[0], v[1]), cv::Point2f(v[2], v[3]), cv::Point2f(v[4], v[5]),
                     cv::Point2f(v[6], v[7])});
  std::fclose(f);
  int threads = std::atoi(argv[3]), repeats = std::atoi(argv[4]);
  cv::setNumThreads(1);  // OpenMP over quads; each warp single-threaded
  std::vector<cv::Mat> out(quads.size());
  std::vector<double> ms;
  for (int r = 0; r < repeats; r++) {
    auto t0 = std::chrono::steady_clock::now();
#pragma omp parallel for schedule(dynamic) num_threads(threads)
    for (size_t i = 0; i < quads.size(); i++) {
      const auto &q = quads[i];
      auto len = [](cv::Point2f a, cv::Point2f b) {
        float dx = a.x - b.x, dy = a.y - b.y;
        return (int)std::sqrt(dx * dx + dy * dy);
      };
      int w = std::max(len(q[2], q[3]), len(q[1], q[0]));
      int h = std::max(len(q[1], q[2]), len(q[0], q[3]));
      if (w < 1 || h < 1) continue;
      cv::Point2f dst[4] = {{0, 0}, {float(w - 1), 0}, {float(w - 1), float(h - 1)}, {0, float(h - 1)}};
      cv::Mat M = cv::getPerspectiveTransform(q.data(), dst);
      cv::warpPerspective(img, out[i], M, cv::Size(w, h), cv::INTER_LINEAR, cv::BORDER_CONSTANT, 0);
    }
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  std::printf("%.4f\n", ms[ms.size() / 2]);
  return 0;
}
