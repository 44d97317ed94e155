#include "tests/imaging/image_metrics.h"

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

namespace pixq::imaging::testing {
namespace {

constexpr double kPeak = 255.0;
constexpr double kC1 = (0.01 * kPeak) * (0.01 * kPeak);
constexpr double kC2 = (0.03 * kPeak) * (0.03 * kPeak);
constexpr int kWindow = 11;
constexpr double kWindowSigma = 1.5;

// The local mean under the Gaussian window. The border mode only matters outside the valid region,
// which is not averaged.
cv::Mat Window(const cv::Mat& m) {
  cv::Mat out;
  cv::GaussianBlur(m, out, cv::Size(kWindow, kWindow), kWindowSigma, kWindowSigma,
                   cv::BORDER_REPLICATE);
  return out;
}

// The local mean of a · b, computed in one buffer (large allocations are most of the cost).
cv::Mat WindowOfProduct(const cv::Mat& a, const cv::Mat& b) {
  cv::Mat product;
  cv::multiply(a, b, product);
  cv::GaussianBlur(product, product, cv::Size(kWindow, kWindow), kWindowSigma, kWindowSigma,
                   cv::BORDER_REPLICATE);
  return product;
}

}  // namespace

cv::Mat Luma(const cv::Mat& image) {
  const int channels = image.channels();
  CV_Assert(image.depth() == CV_8U && (channels == 1 || channels == 3 || channels == 4));
  cv::Mat luma(image.size(), CV_32F);
  for (int i = 0; i < image.rows; ++i) {
    const uchar* in = image.ptr<uchar>(i);
    float* out = luma.ptr<float>(i);
    for (int j = 0; j < image.cols; ++j, in += channels) {
      // B, G, R (and alpha, ignored).
      out[j] = channels == 1 ? in[0] : 0.114F * in[0] + 0.587F * in[1] + 0.299F * in[2];
    }
  }
  return luma;
}

double Ssim(const cv::Mat& a, const cv::Mat& b) {
  CV_Assert(a.size() == b.size() && !a.empty());
  // Single precision halves the memory touched, most of the cost. Taking the statistics about
  // mid-grey keeps the squares small, so that variance = E[x²] - E[x]² loses nothing that shows.
  constexpr float kMid = 128;
  cv::Mat x = Luma(a);
  cv::Mat y = Luma(b);
  x -= kMid;
  y -= kMid;
  const cv::Mat mx = Window(x);
  const cv::Mat my = Window(y);
  const cv::Mat mxx = WindowOfProduct(x, x);
  const cv::Mat myy = WindowOfProduct(y, y);
  const cv::Mat mxy = WindowOfProduct(x, y);
  const int r = x.cols > 2 * (kWindow / 2) && x.rows > 2 * (kWindow / 2) ? kWindow / 2 : 0;
  double sum = 0;
  for (int i = r; i < x.rows - r; ++i) {
    const float* rx = mx.ptr<float>(i);
    const float* ry = my.ptr<float>(i);
    const float* rxx = mxx.ptr<float>(i);
    const float* ryy = myy.ptr<float>(i);
    const float* rxy = mxy.ptr<float>(i);
    for (int j = r; j < x.cols - r; ++j) {
      const double cx = rx[j];  // centred means
      const double cy = ry[j];
      const double vx = rxx[j] - cx * cx;
      const double vy = ryy[j] - cy * cy;
      const double cov = rxy[j] - cx * cy;
      const double ux = cx + kMid;
      const double uy = cy + kMid;
      sum +=
          ((2 * ux * uy + kC1) * (2 * cov + kC2)) / ((ux * ux + uy * uy + kC1) * (vx + vy + kC2));
    }
  }
  return sum / (static_cast<double>(x.rows - 2 * r) * (x.cols - 2 * r));
}

double Psnr(const cv::Mat& a, const cv::Mat& b) {
  CV_Assert(a.size() == b.size() && !a.empty());
  if (a.channels() == b.channels()) {
    if (cv::norm(a, b, cv::NORM_INF) == 0) return kIdentical;
    return cv::PSNR(a, b, kPeak);
  }
  const cv::Mat x = Luma(a);
  const cv::Mat y = Luma(b);
  if (cv::norm(x, y, cv::NORM_INF) == 0) return kIdentical;
  return cv::PSNR(x, y, kPeak);
}

}  // namespace pixq::imaging::testing
